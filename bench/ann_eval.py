"""Recall@10 and latency of a store's FAISS index against exact search over its live windows.

Recall is tie-aware: a returned window (or passage) counts when its exact score reaches the exact
10th best, so identical windows are interchangeable. ``targets_found``: of the queries whose target
passage is in the exact top 10 (above the 10th score, not tied with it), the share that found it.
Passages are ranked as ``dense_search`` ranks them (best window, ``mean_weight`` 0) from the
CANDIDATES * WINDOW_FANOUT windows it reads; the timed call is that window search on the store's
own index, on one OpenMP thread as the store searches.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import faiss
import numpy as np

from bench.common import percentiles
from bench.synthetic import synthetic_vectors
from ingest.stores.embedded import WINDOW_FANOUT
from ingest.stores.embedded import EmbeddedStore as KnowledgeBase
from ingest.windows import WINDOW_BITS, best_passages

CANDIDATES = 50  # Settings.candidates
K = 10
BLOCK = 64
QuerySets = dict[str, tuple[np.ndarray, np.ndarray]]  # name -> (queries, target window ids)


class _Tally:
    def __init__(self) -> None:
        self.window: list[float] = []
        self.passage: list[float] = []
        self.targets: list[bool] = []

    def summary(self) -> dict[str, Any]:
        return {
            "window_recall": round(float(np.mean(self.window)), 4),
            "passage_recall": round(float(np.mean(self.passage)), 4),
            "targets_in_exact_top10": len(self.targets),
            "targets_found": round(float(np.mean(self.targets)), 4) if self.targets else None,
        }


def _tenth(scores: np.ndarray) -> np.ndarray:
    return -np.partition(-scores, K - 1, axis=1)[:, K - 1] - 1e-5


def measure(kb: KnowledgeBase, sets: QuerySets, settings: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """For each search setting (label -> a context manager that applies it): recall per query set, latency."""
    ids, matrix = kb._all_windows()
    passage = ids >> WINDOW_BITS
    starts = np.flatnonzero(np.r_[True, passage[1:] != passage[:-1]])
    window_row = {int(w): i for i, w in enumerate(ids)}
    passage_ids = passage[starts]
    passage_row = {int(p): i for i, p in enumerate(passage_ids)}
    tallies = {label: {name: _Tally() for name in sets} for label in settings}
    seconds: dict[str, list[float]] = {label: [] for label in settings}
    for name, (queries, targets) in sets.items():
        for block in range(0, len(queries), BLOCK):
            scores = queries[block : block + BLOCK] @ matrix.T
            per_passage = np.maximum.reduceat(scores, starts, axis=1)
            window_10, passage_10 = _tenth(scores), _tenth(per_passage)
            for label, applied in settings.items():
                tally = tallies[label][name]
                with applied():
                    for n, query in enumerate(queries[block : block + BLOCK]):
                        started = time.perf_counter()
                        found = kb._index.search(query, CANDIDATES * WINDOW_FANOUT)
                        best = sorted(best_passages(found).items(), key=lambda item: (-item[1], item[0]))[:K]
                        seconds[label].append(time.perf_counter() - started)
                        good = [scores[n, window_row[w]] >= window_10[n] for w, _ in found[:K]]
                        tally.window.append(min(sum(good), K) / K)
                        good = [per_passage[n, passage_row[p]] >= passage_10[n] for p, _ in best]
                        tally.passage.append(min(sum(good), K) / K)
                        target = passage_row.get(int(targets[block + n]) >> WINDOW_BITS)  # None: removed
                        if target is not None and per_passage[n, target] > passage_10[n] + 2e-5:  # no tie
                            tally.targets.append(passage_ids[target] in {p for p, _ in best})
    return {
        label: {**{name: t.summary() for name, t in per_set.items()}, "latency": percentiles(seconds[label])}
        for label, per_set in tallies.items()
    }


def flat_latency(base: np.ndarray, sizes: tuple[int, ...], queries: int, rng: np.random.Generator) -> dict[str, Any]:
    """p50/p95 of exact FAISS search (one thread, CANDIDATES * WINDOW_FANOUT results) over ``sizes`` windows."""
    out = {}
    for n in sizes:
        matrix = synthetic_vectors(base, n, rng)
        index = faiss.IndexFlatIP(matrix.shape[1])
        index.add(matrix)
        probes = matrix[rng.integers(0, n, queries)]
        seconds = []
        for query in probes:
            started = time.perf_counter()
            index.search(query[None, :], CANDIDATES * WINDOW_FANOUT)
            seconds.append(time.perf_counter() - started)
        out[str(n)] = percentiles(seconds)
        del index, matrix
    return out
