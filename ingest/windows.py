"""A chunk's dense vectors: one per window of a few sentences, not one for the whole chunk.

An 800-character chunk embedded whole is the average of everything it says, so a question about
one of its sentences matches it weakly. Each chunk is cut (by the same splitter, at sentence
boundaries) into windows of about ``window_chars``; each window gets its own vector. Dense search
scores a chunk by its best window blended with the mean of its windows (ingest/stores/embedded.py); on the
bench's paraphrased questions this lifts dense-only MRR@10 by about a quarter (bench/report.md).

The FAISS index holds window vectors under ids that carry their passage's id (ingest/stores/base.py)
in the high bits, so a hit maps back to its passage without a lookup table.
"""

from __future__ import annotations

import numpy as np

from ingest.splitter import split_text_spans

WINDOW_BITS = 6
MAX_WINDOWS = 1 << WINDOW_BITS  # windows per chunk; a longer chunk gets wider windows


def window_texts(text: str, window_chars: int) -> list[str]:
    """The windows of one chunk's text, overlapping by about a sixth, at most MAX_WINDOWS of them."""
    size = max(window_chars, -(-len(text) // (MAX_WINDOWS // 2)))
    while True:
        spans = split_text_spans(text, size, size // 6)
        if len(spans) <= MAX_WINDOWS:
            return [text[start:end] for start, end in spans] or [text]
        size *= 2


def window_ids(passage_id: int, count: int) -> np.ndarray:
    """FAISS ids of a passage's ``count`` windows."""
    return (np.int64(passage_id) << WINDOW_BITS) + np.arange(count, dtype=np.int64)


def passage_of(window_id: int) -> int:
    """The passage (a distinct chunk text) a window id belongs to."""
    return int(window_id) >> WINDOW_BITS


def best_passages(hits: list[tuple[int, float]]) -> dict[int, float]:
    """Each passage's score as its best window's, from window hits given best first (passages in that order)."""
    best: dict[int, float] = {}
    for window, score in hits:
        best.setdefault(passage_of(window), score)
    return best


def mean_direction(window_vectors: np.ndarray) -> np.ndarray:
    """Unit vector along the sum of a chunk's window vectors: the chunk as a whole."""
    total = np.asarray(window_vectors, np.float32).sum(axis=0)
    return total / max(float(np.linalg.norm(total)), 1e-12)


def blended(best: float, whole: float, mean_weight: float) -> float:
    """A passage's dense score: its best window's cosine with ``mean_weight`` of its mean direction's."""
    return (1 - mean_weight) * best + mean_weight * whole


def passage_score(window_vectors: np.ndarray, query: np.ndarray, mean_weight: float = 0.0) -> float:
    """What a dense search scores a passage by (``blended``), from its window vectors."""
    query = np.asarray(query, np.float32)
    best = float(np.max(np.asarray(window_vectors, np.float32) @ query))
    if not mean_weight:
        return best
    return blended(best, float(mean_direction(window_vectors) @ query), mean_weight)
