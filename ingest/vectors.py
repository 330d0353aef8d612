"""The FAISS side of a knowledge base: unit vectors keyed by chunk id, inner-product search.

SQLite holds every vector too (it is the source of truth); the FAISS file is a derived cache
named after the store's generation, so a file that does not match the database is never used.
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


def can_update(index: faiss.Index, removing: bool, total_after: int) -> bool:
    """Whether ``index`` can take an update in place; if not it is rebuilt from the vectors.

    HNSW graphs cannot drop vectors, and a flat index that grows past FLAT_LIMIT becomes HNSW.
    """
    flat = isinstance(faiss.downcast_index(index.index), faiss.IndexFlat)
    return total_after <= FLAT_LIMIT if flat else not removing


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


def search(index: faiss.Index, query: np.ndarray, k: int) -> list[tuple[int, float]]:
    """(chunk id, cosine similarity) of the ``k`` nearest vectors, best first."""
    if index.ntotal == 0 or k <= 0:
        return []
    scores, ids = index.search(np.asarray(query, np.float32).reshape(1, -1), min(k, index.ntotal))
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i != -1]


def save_index(index: faiss.Index, path: Path) -> None:
    """Write atomically: a reader sees the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    faiss.write_index(index, str(tmp))
    os.replace(tmp, path)


def load_index(path: Path, dim: int) -> faiss.Index | None:
    """The index at ``path``, or None if it is missing, unreadable or of another dimension."""
    try:
        index = faiss.read_index(str(path))
    except (RuntimeError, OSError):
        return None
    return index if index.d == dim else None
