"""The FAISS side of a knowledge base: unit vectors keyed by window id, inner-product search.

SQLite holds every vector too (it is the source of truth); the FAISS files are a derived cache
(ingest/stores/index_cache.py keeps them in step with the database).

Up to FLAT_LIMIT windows the index is exact (flat). Past it the windows are split in three parts
searched together (bench/ann_recall.py, report section 9, measured why):

- an HNSW graph of the distinct vectors stored at the last rebuild;
- *repeats*: the windows whose vector equals one already in the graph, searched exactly. FAISS's
  neighbour selection keeps one of a set of equal vectors and prunes the rest, which leaves them,
  and the graph around them, unreachable: a generated file of repeated windows lost most results;
- *side*: the windows added since the rebuild, searched exactly, so a new document is always found
  however crowded the graph around it is (inserted into the graph, new windows were lost). It is
  folded into the graph, by a rebuild, when it passes SIDE_SHARE of it.

A graph cannot drop vectors, so removed ones stay in it as tombstones: ids that search skips, kept
beside the index file (``<index>.dead.npy``) until they are more than MAX_DEAD_FRACTION of the
graph, when it is rebuilt. Removed windows of the exact parts simply leave them.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import faiss
import numpy as np

# Chosen by bench/ann_recall.py (report section 9; rule: recall@10 >= 0.99 on every query set, then
# the lowest p95). On the fault's store (90k windows, a block of near-duplicates, documents added one
# at a time) only exact search met the rule; the best graph reached 0.976. Flat search costs about
# 75 ns per window on one thread (report section 3: 1M windows 75 ms p95), so up to 200k windows it
# is no slower than the graph at efSearch 2048 (13-17 ms p95 at 100k-1M) and exact. Past it: M=32
# with efConstruction 40 (200 and 400, and M=48, lost more on clustered windows: 0.80-0.84),
# efSearch 2048 (512: 0.86), distinct vectors only (with repeats in the graph: 0.33) and the side
# index (new documents found 1.000, inserted into the graph 0.78).
FLAT_LIMIT = 200_000
HNSW_NEIGHBOURS = 32
HNSW_EF_CONSTRUCTION = 40
HNSW_EF_SEARCH = 2048
SIDE_SHARE: float | None = 0.1  # None: new windows go into the graph itself (the store before the side index)
DISTINCT_GRAPH = True  # False: repeated vectors go into the graph too (the store before repeats)
MAX_DEAD_FRACTION = 0.2


# One query at a time runs faster on one OpenMP thread (bench: exact search over 1M vectors 67 ms
# on one thread, 139 ms on two); building an HNSW graph uses every core (see build_index).
faiss.omp_set_num_threads(1)


def new_index(dim: int, expected: int = 0) -> faiss.Index:
    """An empty index with ids; HNSW when the collection is expected to be large."""
    if expected > FLAT_LIMIT:
        graph = faiss.IndexHNSWFlat(dim, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        graph.hnsw.efSearch = HNSW_EF_SEARCH
        return faiss.IndexIDMap2(graph)
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def new_side(dim: int) -> faiss.Index:
    """An empty exact index for windows kept beside a graph (repeats, additions)."""
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


class Tombstones:
    """Window ids that search skips, with their FAISS selector built once (not on every query)."""

    def __init__(self, ids: np.ndarray | list[int] = ()) -> None:
        self.ids = np.asarray(ids, np.int64)
        self._batch = faiss.IDSelectorBatch(self.ids) if len(self.ids) else None  # kept alive for the selector
        self.selector = faiss.IDSelectorNot(self._batch) if self._batch is not None else None

    def __len__(self) -> int:
        return len(self.ids)

    def plus(self, ids: list[int]) -> Tombstones:
        return Tombstones(np.concatenate([self.ids, np.asarray(ids, np.int64)])) if ids else self


def is_flat(index: faiss.Index) -> bool:
    return isinstance(faiss.downcast_index(index.index), faiss.IndexFlat)


def ids_of(index: faiss.Index) -> np.ndarray:
    """The window ids an IndexIDMap2 holds."""
    return faiss.vector_to_array(index.id_map).astype(np.int64)


def needs_rebuild(index: faiss.Index, total_after: int, dead: int, side_after: int = 0) -> bool:
    """Whether an update should rebuild ``index`` from the vectors instead of changing it in place:
    a flat index that grows past FLAT_LIMIT becomes a graph; a graph with too many tombstones, or
    whose side index has grown past SIDE_SHARE of it, is redone.
    """
    if is_flat(index):
        return total_after > FLAT_LIMIT
    size = max(total_after, 1)
    return dead > MAX_DEAD_FRACTION * size or (SIDE_SHARE is not None and side_after > SIDE_SHARE * size)


def _first_copies(vectors: np.ndarray) -> np.ndarray:
    """Whether each row is the first of the rows with its bytes (by a 64-bit hash: a collision only sends
    a vector to the exact repeats part, where it is still found)."""
    keys = np.array([hashlib.blake2b(row.tobytes(), digest_size=8).digest() for row in vectors], "V8")
    first = np.zeros(len(vectors), bool)
    first[np.unique(keys.view(np.uint64), return_index=True)[1]] = True
    return first


def build_index(dim: int, ids: np.ndarray, vectors: np.ndarray) -> tuple[faiss.Index, faiss.Index]:
    """An index holding ``vectors`` under ``ids``, and the repeats kept beside it (see the module docstring)."""
    vectors, ids = np.ascontiguousarray(vectors, np.float32), np.asarray(ids, np.int64)
    index, repeats = new_index(dim, len(ids)), new_side(dim)
    if not is_flat(index) and DISTINCT_GRAPH:
        first = _first_copies(vectors)
        repeats.add_with_ids(vectors[~first], ids[~first])
        vectors, ids = vectors[first], ids[first]
    if len(ids):
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        try:
            index.add_with_ids(vectors, ids)
        finally:
            faiss.omp_set_num_threads(1)
    return index, repeats


def _search_one(index: faiss.Index, query: np.ndarray, k: int, dead: Tombstones | None) -> list[tuple[int, float]]:
    k = min(k, index.ntotal)
    if k <= 0:
        return []
    inner = faiss.downcast_index(index.index)
    skip = dead.selector if dead is not None else None
    if isinstance(inner, faiss.IndexHNSW):
        params = faiss.SearchParametersHNSW(sel=skip, efSearch=max(HNSW_EF_SEARCH, k))
    elif isinstance(inner, faiss.IndexIVF):  # not built by the store; bench/ann_recall.py measures it through it
        params = faiss.SearchParametersIVF(sel=skip, nprobe=inner.nprobe)
    else:
        params = faiss.SearchParameters(sel=skip) if skip is not None else None
    scores, ids = index.search(query, k, params=params)
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i != -1]


def search(
    index: faiss.Index, query: np.ndarray, k: int, dead: Tombstones | None = None, exact: tuple[faiss.Index, ...] = ()
) -> list[tuple[int, float]]:
    """(window id, cosine similarity) of the ``k`` nearest live vectors of ``index`` and the flat ``exact``
    parts beside it, best first."""
    if k <= 0:
        return []
    query = np.asarray(query, np.float32).reshape(1, -1)
    hits = _search_one(index, query, k, dead)
    for part in exact:
        if part.ntotal:
            hits = sorted(hits + _search_one(part, query, k, None), key=lambda hit: -hit[1])[:k]
    return hits


def dead_file(path: Path) -> Path:
    """Where the tombstones of the index at ``path`` are kept."""
    return path.with_name(path.name + ".dead.npy")


def part_file(path: Path, part: str) -> Path:
    """Where the exact part ``part`` ("repeats" or "side") of the index at ``path`` is kept."""
    return path.with_name(f"{path.name}.{part}")


PARTS = ("repeats", "side")


def save_index(index: faiss.Index, path: Path, dead: Tombstones, parts: dict[str, faiss.Index]) -> None:
    """Write ``index`` to ``path``, and its tombstones and exact parts (those not empty) beside it."""
    faiss.write_index(index, str(path))
    tombstones = dead_file(path)
    if len(dead):
        with tombstones.open("wb") as out:
            np.save(out, dead.ids, allow_pickle=False)
    else:
        tombstones.unlink(missing_ok=True)
    for name in PARTS:
        if parts[name].ntotal:
            faiss.write_index(parts[name], str(part_file(path, name)))
        else:
            part_file(path, name).unlink(missing_ok=True)


def load_index(path: Path, dim: int) -> tuple[faiss.Index, Tombstones, dict[str, faiss.Index]] | None:
    """The index at ``path``, its tombstones and exact parts, or None if missing, unreadable or of another dimension."""
    try:
        index = faiss.read_index(str(path))
        dead = np.load(dead_file(path), allow_pickle=False) if dead_file(path).exists() else []
        parts = {
            name: faiss.read_index(str(part_file(path, name))) if part_file(path, name).exists() else new_side(dim)
            for name in PARTS
        }
    except (RuntimeError, OSError, ValueError):
        return None
    if index.d != dim or any(part.d != dim for part in parts.values()):
        return None
    return index, Tombstones(dead), parts
