"""Uploaded files -> a staging folder the pipeline can ingest from, and per-file results.

The browser and the HTTP API hand over (name, declared size, stream) triples. Nothing is written
for a file that is too large or of an unsupported type, names are reduced to bare safe file
names, and a stream that delivers more bytes than it declared is cut off and rejected.

Each upload is staged in ``<data_dir>/.uploads/<pid>-<random>/``, named after the process that
owns it, and removed when its ingest ends; ``remove_stale_uploads`` deletes what a killed process
left behind (its pid no longer alive), at start-up of the app and the API.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

import psutil

from ingest.errors import InvalidName
from ingest.loaders import SUPPORTED_SUMMARY, is_supported
from ingest.names import safe_file_name
from ingest.pipeline import IncomingFile, IngestReport

BLOCK = 1024 * 1024

ADDED, UPDATED, UNCHANGED, FAILED = "已添加 / added", "已更新 / updated", "未变 / unchanged", "失败 / failed"


def _mb(n: float) -> str:
    return f"{n / 2**20:.1f} MB"


UPLOADS_DIR = ".uploads"


def new_staging_folder(data_dir: Path) -> Path:
    """A fresh folder for one upload, named after this process (see remove_stale_uploads)."""
    return data_dir / UPLOADS_DIR / f"{os.getpid()}-{uuid.uuid4().hex}"


def remove_stale_uploads(data_dir: Path) -> int:
    """Delete staging folders whose process is gone (a crash or kill mid-upload); returns how many."""
    root = data_dir / UPLOADS_DIR
    if not root.is_dir():
        return 0
    removed = 0
    for folder in root.iterdir():
        owner = folder.name.split("-", 1)[0]
        if not owner.isdigit() or not psutil.pid_exists(int(owner)) or int(owner) == 0:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def _head(stream: BinaryIO) -> bytes:
    """The first bytes of an upload (a script without an extension is known by its #! line), the
    stream left where it was."""
    try:
        position = stream.tell()
        head = stream.read(256)
        stream.seek(position)
    except (OSError, ValueError, AttributeError):  # not seekable: judge by the name alone
        return b""
    return head


def _copy(stream: BinaryIO, target: Path, limit: int) -> str | None:
    """Copy at most ``limit`` bytes in 1 MB blocks; the reason for refusing, or None when copied."""
    tmp = target.with_name(f".{target.name}.part")
    written = 0
    try:
        with tmp.open("wb") as out:
            while block := stream.read(BLOCK):
                written += len(block)
                if written > limit:
                    return f"more than the declared {_mb(limit)} arrived; upload refused"
                out.write(block)
        os.replace(tmp, target)
        return None
    finally:
        tmp.unlink(missing_ok=True)


def stage_uploads(
    files: Iterable[tuple[str, int, BinaryIO]], folder: Path, max_bytes: int
) -> tuple[list[IncomingFile], list[tuple[str, str]]]:
    """Write acceptable uploads into ``folder`` under safe names.

    Returns the files to ingest and the rejected ones as (uploaded name, reason). A file is
    rejected, without anything being written, when its name is unusable, its type unsupported or
    its declared size over ``max_bytes``; it is also rejected (and its partial copy deleted) when
    more bytes arrive than it declared, or when an earlier file in the batch has the same safe name.
    """
    folder.mkdir(parents=True, exist_ok=True)
    staged: list[IncomingFile] = []
    rejected: list[tuple[str, str]] = []
    taken: set[str] = set()
    for name, size, stream in files:
        try:
            safe = safe_file_name(name)
        except InvalidName as error:
            rejected.append((name, str(error)))
            continue
        suffix = Path(safe).suffix.lower()
        if not (is_supported(safe) or (not suffix and is_supported(safe, _head(stream)))):
            rejected.append((name, f"unsupported file type '{suffix or '(none)'}'; supported: {SUPPORTED_SUMMARY}"))
        elif size > max_bytes:
            rejected.append((name, f"file is {_mb(size)}, over the {_mb(max_bytes)} limit"))
        elif safe in taken:
            rejected.append((name, f"another file in this upload is also named '{safe}'"))
        else:
            reason = _copy(stream, folder / safe, min(size, max_bytes))
            if reason:
                rejected.append((name, reason))
            else:
                taken.add(safe)
                staged.append(IncomingFile(safe, folder / safe))
    return staged, rejected


def upload_results(rejected: Iterable[tuple[str, str]], report: IngestReport | None) -> list[dict[str, str]]:
    """One row per file for the browser's result table: file, result, reason."""
    rows = [{"file": name, "result": FAILED, "reason": reason} for name, reason in rejected]
    if report is not None:
        for result, names in ((ADDED, report.added), (UPDATED, report.updated), (UNCHANGED, report.unchanged)):
            rows += [{"file": name, "result": result, "reason": ""} for name in names]
        rows += [{"file": name, "result": FAILED, "reason": reason} for name, reason in report.failed]
    return rows


def report_summary(report: IngestReport, rejected: int = 0) -> str:
    """One line for the browser: counts per result, chunks embedded or reused, seconds."""
    return (
        f"新增 {len(report.added)} added, 更新 {len(report.updated)} updated, "
        f"未变 {len(report.unchanged)} unchanged, 失败 {len(report.failed) + rejected} failed; "
        f"向量化 {report.chunks_embedded} chunks embedded, {report.chunks_reused} reused; {report.seconds:.1f} s"
    )
