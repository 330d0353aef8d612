"""Part 7, a 150 MB upload end to end, the way the browser and the API hand it over.

The file: 20 distinct paragraphs of about 800 characters repeated to 150 MB (the shape of a
generated log or an export: a large file of few distinct passages, which is what made the
previous code write for minutes with its bar frozen). It is staged from a stream in 1 MB blocks
(ingest.uploads.stage_uploads), then ingested by ingest.pipeline.add_files with the default
embedder, every progress report timestamped. A sampler records the process's RSS and the size of
the SQLite write-ahead log every 0.2 s. While the upload runs, a second writer adds a small file
to the same knowledge base: it must wait, say whom for, and land.

Baseline in the same run: the same upload written in one transaction (BATCH_CHUNKS set past the
chunk count), as the store wrote before batching, for the peak WAL and the write phase.
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from bench.common import RunOptions, load_average, write_json
from ingest import pipeline
from ingest.keywords import keyword_tokens
from ingest.pipeline import IncomingFile
from ingest.stores import sqlite_rows
from ingest.uploads import new_staging_folder, stage_uploads
from rag.config import Settings

SIZE_MB = 150
PARAGRAPHS = 20
SAMPLE_S = 0.2


def make_file(path: Path, size_mb: float) -> int:
    """Write the upload: PARAGRAPHS distinct ~800-character paragraphs repeated to ``size_mb``."""
    paragraphs = [
        f"第{i}段：知识库助手把上传的文档切成带行号的块，向量化后写入索引，回答时引用原文。" * 11
        for i in range(PARAGRAPHS)
    ]
    block = ("\n\n".join(paragraphs) + "\n\n").encode()
    repeats = max(1, int(size_mb * 2**20) // len(block))
    with path.open("wb") as out:
        for _ in range(repeats):
            out.write(block)
    return path.stat().st_size


class Sampler:
    """Peak RSS of this process and peak size of a WAL file, sampled in a thread."""

    def __init__(self, wal: Path) -> None:
        self.wal, self.peak_rss, self.peak_wal = wal, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        process = psutil.Process()
        while not self._stop.wait(SAMPLE_S):
            self.peak_rss = max(self.peak_rss, process.memory_info().rss)
            with contextlib.suppress(FileNotFoundError):
                self.peak_wal = max(self.peak_wal, self.wal.stat().st_size)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _phases(events: list[tuple[float, str, int, int, str]], end: float) -> dict[str, dict[str, float]]:
    """Seconds from each stage's first report to the next stage's, and how many reports it made."""
    firsts: dict[str, float] = {}
    counts: dict[str, int] = {}
    for at, stage, *_ in events:
        firsts.setdefault(stage, at)
        counts[stage] = counts.get(stage, 0) + 1
    order = sorted(firsts, key=firsts.__getitem__)
    bounds = [firsts[s] for s in order] + [end]
    return {s: {"seconds": round(bounds[i + 1] - bounds[i], 2), "reports": counts[s]} for i, s in enumerate(order)}


def _one_upload(settings: Settings, source: Path, kb: str, second: Path | None) -> dict[str, Any]:
    folder = settings.kb_dir(kb)
    events: list[tuple[float, str, int, int, str]] = []
    started = time.perf_counter()

    waiter: dict[str, Any] = {}

    def progress(stage: str, done: int, total: int, detail: str = "") -> None:
        if second is not None and not events:  # the upload holds the write lock from here on
            threading.Thread(target=_second_writer, args=(settings, kb, second, waiter, started), daemon=True).start()
        events.append((time.perf_counter() - started, stage, done, total, detail))

    staging = new_staging_folder(settings.data_dir)
    with Sampler(folder / "kb.sqlite-wal") as sampler:
        with source.open("rb") as stream:
            staged, rejected = stage_uploads([(source.name, source.stat().st_size, stream)], staging, 2**40)
        staged_s = time.perf_counter() - started
        assert not rejected, rejected
        report = pipeline.add_files(settings, kb, staged, progress)
        total_s = time.perf_counter() - started
        deadline = time.monotonic() + 120
        while second is not None and "landed_s" not in waiter and time.monotonic() < deadline:
            time.sleep(0.1)
    shutil.rmtree(staging, ignore_errors=True)
    assert not report.failed, report.failed
    kb_store = pipeline.open_kb(settings, kb)
    stats = kb_store.stats()
    kb_store.close()
    return {
        "stage_copy_s": round(staged_s, 2),
        "total_s": round(total_s, 2),
        "phases": _phases(events, total_s),
        "progress_reports": len(events),
        "longest_silence_s": round(max(b[0] - a[0] for a, b in itertools.pairwise(events)), 2),
        "chunks_embedded": report.chunks_embedded,
        "chunks_reused": report.chunks_reused,
        "chunks": stats["chunks"],
        "passages": stats["passages"],
        "peak_rss_mb": round(sampler.peak_rss / 2**20),
        "peak_wal_mb": round(sampler.peak_wal / 2**20, 1),
        "kb_disk_mb": round(int(stats["disk_bytes"]) / 2**20, 1),
        "second_writer": waiter or None,
    }


def _second_writer(settings: Settings, kb: str, path: Path, out: dict[str, Any], started: float) -> None:
    messages: list[str] = []

    def progress(stage: str, done: int, total: int, detail: str = "") -> None:
        if stage == "wait" and detail not in messages:
            messages.append(detail)

    began = time.perf_counter()
    report = pipeline.add_files(settings, kb, [IncomingFile(path.name, path)], progress)
    out.update(
        started_s=round(began - started, 2),
        waited_s=round(time.perf_counter() - began, 2),
        landed_s=round(time.perf_counter() - started, 2),
        messages=messages,
        added=report.added,
    )


def run(opts: RunOptions) -> dict[str, Any]:
    """Upload the file twice (batched as shipped, then in one transaction), write upload.json."""
    settings = Settings(data_dir=opts.work / "upload", embedder="hashing" if opts.quick else Settings().embedder)
    size_mb = 3 if opts.quick else SIZE_MB
    opts.work.mkdir(parents=True, exist_ok=True)
    source = opts.work / "upload-150mb.txt"
    size = make_file(source, size_mb)
    second = opts.work / "second-writer.md"
    second.write_text("# 另一个窗口\n\n上传进行时另一个写入者加入的小文件。\n", encoding="utf-8")
    keyword_tokens("预热")  # jieba loads its dictionary once: not part of either upload
    started_load = load_average()
    shipped = _one_upload(settings, source, "batched", second)
    saved = sqlite_rows.BATCH_CHUNKS
    sqlite_rows.BATCH_CHUNKS = 10**9  # the baseline: the whole write in one transaction
    try:
        one_transaction = _one_upload(settings, source, "one_transaction", None)
    finally:
        sqlite_rows.BATCH_CHUNKS = saved
    shutil.rmtree(settings.data_dir, ignore_errors=True)
    source.unlink()
    result = {
        "quick": opts.quick,
        "embedder": settings.embedder,
        "file_mb": round(size / 2**20, 1),
        "batch_chunks": saved,
        "shipped": shipped,
        "one_transaction": one_transaction,
        "wal_ratio": round(one_transaction["peak_wal_mb"] / max(shipped["peak_wal_mb"], 0.1), 1),
        "load_average": {"start": started_load, "end": load_average()},
    }
    write_json(opts.out / "upload.json", result)
    return result
