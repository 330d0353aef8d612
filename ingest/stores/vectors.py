"""The FAISS side of a knowledge base: unit vectors keyed by window id, inner-product search.

SQLite holds every vector too (it is the source of truth); the FAISS file is a derived cache
(ingest/stores/index_cache.py keeps it in step with the database).

An HNSW graph cannot drop vectors, so removed ones stay in it as tombstones: ids that search
skips, kept beside the index file (``<index>.dead.npy``) until they are more than
MAX_DEAD_FRACTION of the graph, when it is rebuilt. Removing a document from a large knowledge
base is then as quick as adding one.
"""

from __future__ import annotations

import os
from pathlib import Path

import faiss
import numpy as np

# Up to FLAT_LIMIT vectors exact search is as fast as HNSW at this efSearch; past it HNSW keeps
# recall of exact search at 0.97 with a 1M-chunk p95 near 16 ms (bench/report.md, section 3).
FLAT_LIMIT = 50_000
HNSW_NEIGHBOURS = 32
HNSW_EF_SEARCH = 2048
MAX_DEAD_FRACTION = 0.2


# One query at a time runs faster on one OpenMP thread (bench: exact search over 1M vectors 67 ms
# on one thread, 139 ms on two); building an HNSW graph uses every core (see build_index).
faiss.omp_set_num_threads(1)


def new_index(dim: int, expected: int = 0) -> faiss.Index:
    """An empty index with ids; HNSW when the collection is expected to be large."""
    if expected > FLAT_LIMIT:
        graph = faiss.IndexHNSWFlat(dim, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efSearch = HNSW_EF_SEARCH
        return faiss.IndexIDMap2(graph)
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


def needs_rebuild(index: faiss.Index, total_after: int, dead: int) -> bool:
    """Whether an update should rebuild ``index`` from the vectors instead of changing it in place:
    a flat index that grows past FLAT_LIMIT becomes HNSW; a graph with too many tombstones is redone.
    """
    if is_flat(index):
        return total_after > FLAT_LIMIT
    return dead > MAX_DEAD_FRACTION * max(total_after, 1)


def build_index(dim: int, ids: np.ndarray, vectors: np.ndarray) -> faiss.Index:
    """An index holding ``vectors`` under ``ids``."""
    index = new_index(dim, len(ids))
    if len(ids):
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        try:
            index.add_with_ids(np.ascontiguousarray(vectors, np.float32), np.asarray(ids, np.int64))
        finally:
            faiss.omp_set_num_threads(1)
    return index


def search(index: faiss.Index, query: np.ndarray, k: int, dead: Tombstones | None = None) -> list[tuple[int, float]]:
    """(window id, cosine similarity) of the ``k`` nearest live vectors, best first."""
    if index.ntotal == 0 or k <= 0:
        return []
    query = np.asarray(query, np.float32).reshape(1, -1)
    k = min(k, index.ntotal)
    if dead is not None and dead.selector is not None:
        skip = dead.selector
        graph = faiss.downcast_index(index.index)
        params = (
            faiss.SearchParametersHNSW(sel=skip, efSearch=graph.hnsw.efSearch)
            if isinstance(graph, faiss.IndexHNSW)
            else faiss.SearchParameters(sel=skip)
        )
        scores, ids = index.search(query, k, params=params)
    else:
        scores, ids = index.search(query, k)
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i != -1]


def dead_file(path: Path) -> Path:
    """Where the tombstones of the index at ``path`` are kept."""
    return path.with_name(path.name + ".dead.npy")


def save_index(index: faiss.Index, path: Path, dead: Tombstones) -> Path:
    """Write ``index`` to ``path`` and its tombstones (if any) beside it; returns the tombstones' path."""
    faiss.write_index(index, str(path))
    tombstones = dead_file(path)
    if len(dead):
        with tombstones.open("wb") as out:
            np.save(out, dead.ids, allow_pickle=False)
    else:
        tombstones.unlink(missing_ok=True)
    return tombstones


def load_index(path: Path, dim: int) -> tuple[faiss.Index, Tombstones] | None:
    """The index at ``path`` and its tombstones, or None if missing, unreadable or of another dimension."""
    try:
        index = faiss.read_index(str(path))
        dead = np.load(dead_file(path), allow_pickle=False) if dead_file(path).exists() else []
    except (RuntimeError, OSError, ValueError):
        return None
    return (index, Tombstones(dead)) if index.d == dim else None
