"""Part milvus: the Milvus store, on Milvus Lite, against the embedded store in the same run.

1. Quality. The shared corpus is built by the real pipeline (``build_from_folder``, shipped
   defaults, embeddings from the bench cache) into the embedded store, into Milvus with our
   keyword terms (the shipped analyzer) and into Milvus with its own jieba analyzer. The dev
   questions and bench/questions.jsonl are answered by ``Retriever.ranked``: recall@1/4/10 and
   MRR@10 for hybrid retrieval and for each retriever alone, and the questions whose rank differs.
2. Scale. Synthetic stores of 10k and 100k chunks (bench/synthetic.py: the corpus's sentences;
   vectors mixed from the window vectors of part 1's corpus knowledge base) are written through
   each store's ``apply``: chunks per second; then the real questions are timed through keyword
   search, dense search and the Retriever's hybrid ``ranked`` (query vectors from the cache).

Milvus Lite is a Python re-implementation of Milvus for tests and laptops: its speed is not the
speed of a Milvus server, whose search runs in C++ (knowhere) on indexes built in the background.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from bench.cache import cached_embedders
from bench.common import CORPUS, RunOptions, load_average, percentiles, stopwatch, write_json
from bench.quality import Question, load_question_sets
from bench.synthetic import SentencePool, split_keyword_text, synthetic_documents, synthetic_texts, synthetic_vectors
from bench.synthetic import build_store as build_embedded
from ingest import pipeline
from ingest.embeddings import get_embedder
from ingest.keywords import keyword_tokens
from ingest.stores import KnowledgeStore, create_store, milvus_write, text_sha
from ingest.stores.milvus_schema import term_tokens
from rag.config import Settings
from rag.eval import EvalQuestion, evaluate
from rag.retrieve import Retriever

SIZES = (10_000, 100_000)
QUICK_SIZES = (300,)
TEXT_CHARS = 300
LATENCY_QUESTIONS = 40
STORES = {  # label: what differs from the shipped settings
    "embedded": {"store": "embedded"},
    "milvus": {"store": "milvus"},
    "milvus-jieba": {"store": "milvus", "milvus_keywords": "jieba"},
}
MODES = ("hybrid", "keyword", "dense")


def _metrics(ranks: list[int | None]) -> dict[str, float]:
    n = max(len(ranks), 1)
    out: dict[str, float] = {
        f"recall@{k}": round(sum(1 for r in ranks if r is not None and r <= k) / n, 4) for k in (1, 4, 10)
    }
    out["mrr@10"] = round(sum(1 / r for r in ranks if r) / n, 4)
    out["n"] = len(ranks)
    return out


def _settings(work: Path, label: str, embedder: str) -> Settings:
    return Settings(
        data_dir=work / label, milvus_uri=str(work / "lite" / f"{label}.db"), embedder=embedder, **STORES[label]
    )


def _quality(work: Path, embedder: str, questions: list[Question]) -> dict[str, Any]:
    builds, rows = {}, []
    asked = [EvalQuestion(q.q, q.needles) for q in questions]
    for label in STORES:
        settings = _settings(work, label, embedder)
        with stopwatch() as took:
            report = pipeline.build_from_folder(settings, "corpus", CORPUS)
        chunks = report.chunks_embedded + report.chunks_reused
        builds[label] = {"seconds": round(took[0], 2), "chunks": chunks, "chunks_per_s": round(chunks / took[0], 1)}
        kb = pipeline.open_kb(settings, "corpus")
        try:
            for mode in MODES if label != "milvus-jieba" else ("hybrid", "keyword"):
                tuned = settings.model_copy(update={"retrieval_mode": mode})
                retriever = Retriever(kb, get_embedder(embedder) if mode != "keyword" else None, tuned)
                ranks = [r.rank for r in evaluate(retriever, asked, 4).results]
                sets = {
                    "dev": _metrics([r for r, q in zip(ranks, questions, strict=True) if q.kind == "dev"]),
                    "bench": _metrics([r for r, q in zip(ranks, questions, strict=True) if q.kind != "dev"]),
                }
                rows.append({"store": label, "mode": mode, "sets": sets, "ranks": ranks})
        finally:
            kb.close()
    by = {(r["store"], r["mode"]): r["ranks"] for r in rows}
    differences = [
        {"q": q.q, "kind": q.kind, "embedded": a, "milvus": b}
        for q, a, b in zip(questions, by[("embedded", "hybrid")], by[("milvus", "hybrid")], strict=True)
        if a != b
    ]
    return {"builds": builds, "rows": rows, "hybrid_rank_differences": differences}


@contextlib.contextmanager
def _precomputed_keywords(lookup: dict[str, str]) -> Iterator[None]:
    """As bench/synthetic.py does for FTS5: a synthetic chunk's jieba terms are looked up, not cut again."""
    original = milvus_write.keyword_document

    def keyword_document(whole: str, mode: str) -> str:
        path, heading, text = split_keyword_text(whole)
        found = lookup.get(text) if mode == "terms" and not heading else None
        return term_tokens(keyword_tokens(path) + found.split()) if found is not None else original(whole, mode)

    milvus_write.keyword_document = keyword_document  # type: ignore[assignment]
    try:
        yield
    finally:
        milvus_write.keyword_document = original  # type: ignore[assignment]


def _build_milvus(
    settings: Settings, name: str, texts: list[str], terms: list[str], vectors: np.ndarray
) -> KnowledgeStore:
    kb = create_store(settings, name, get_embedder(settings.embedder).name, vectors.shape[1])
    docs = synthetic_documents(texts, vectors)
    with _precomputed_keywords(dict(zip(texts, terms, strict=True))):
        for start in range(0, len(docs), 100):  # 10,000 chunks a write
            kb.apply(docs[start : start + 100])
    return kb


def _latency(kb: KnowledgeStore, settings: Settings, questions: list[Question]) -> dict[str, Any]:
    embedder = get_embedder(settings.embedder)
    vectors = [embedder.encode_query(q.q) for q in questions]
    retriever = Retriever(kb, embedder, settings)
    timings: dict[str, list[float]] = {"keyword": [], "dense": [], "hybrid": []}
    for question, vector in zip(questions, vectors, strict=True):
        started = time.perf_counter()
        kb.keyword_search(question.q, settings.candidates)
        keyword_done = time.perf_counter()
        kb.dense_search(vector, settings.candidates, settings.window_mean_weight)
        dense_done = time.perf_counter()
        retriever.ranked(question.q)
        timings["keyword"].append(keyword_done - started)
        timings["dense"].append(dense_done - keyword_done)
        timings["hybrid"].append(time.perf_counter() - dense_done)
    return {what: percentiles(samples) for what, samples in timings.items()}


def _window_base(settings: Settings) -> np.ndarray:
    """Every window vector of the quality part's corpus knowledge base: what synthetic vectors mix."""
    kb = pipeline.open_kb(settings, "corpus")
    try:
        texts = [c.text for d in kb.documents() for c in kb.chunks_of(d.name)]
        return np.concatenate(list(kb.known_vectors(text_sha(t) for t in texts).values()))
    finally:
        kb.close()


def _scale(work: Path, embedder: str, sizes: tuple[int, ...], questions: list[Question]) -> list[dict[str, Any]]:
    pool = SentencePool.from_folder(CORPUS)
    name = get_embedder(embedder).name
    base = _window_base(_settings(work, "embedded", embedder))
    rows = []
    for size in sizes:
        rng = np.random.default_rng(size)
        texts, terms = synthetic_texts(pool, size, TEXT_CHARS, rng)
        vectors = synthetic_vectors(base, size, rng)
        for label in ("embedded", "milvus"):
            settings = _settings(work / "scale", label, embedder)
            with stopwatch() as took:
                if label == "embedded":
                    kb: KnowledgeStore = build_embedded(settings.kb_dir(f"s{size}"), name, texts, terms, vectors)
                else:
                    kb = _build_milvus(settings, f"s{size}", texts, terms, vectors)
            try:
                row = {"store": label, "chunks": size, "write_s": round(took[0], 1)}
                row["chunks_per_s"] = round(size / took[0], 1)
                row["latency"] = _latency(kb, settings, questions)
            finally:
                kb.close()
            rows.append(row)
    return rows


def run(opts: RunOptions) -> dict[str, Any]:
    """Both parts; writes milvus.json and returns its content."""
    import milvus_lite
    import pymilvus

    questions = load_question_sets()
    if opts.quick:  # the dev questions and a few of the bench's
        questions = [q for q in questions if q.kind == "dev"] + [q for q in questions if q.kind != "dev"][:10]
    embedder = "hashing" if opts.quick else Settings().embedder
    latency_questions = [q for q in questions if q.kind != "dev"][: 5 if opts.quick else LATENCY_QUESTIONS]
    started_load = load_average()
    with cached_embedders([] if embedder == "hashing" else [embedder]):
        quality = _quality(opts.work / "milvus", embedder, questions)
        scale = _scale(opts.work / "milvus", embedder, QUICK_SIZES if opts.quick else SIZES, latency_questions)
    result = {
        "embedder": embedder,
        "pymilvus": pymilvus.__version__,
        "milvus_lite": milvus_lite.__version__,
        "questions": {"dev": sum(q.kind == "dev" for q in questions), "bench": sum(q.kind != "dev" for q in questions)},
        "quality": quality,
        "scale": scale,
        "load_average": {"start": started_load, "end": load_average()},
    }
    write_json(opts.out / "milvus.json", result)
    return result
