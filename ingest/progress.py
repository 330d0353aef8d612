"""Progress of a long ingest, the same for the CLI's bars, the browser's bar and the API's jobs.

The pipeline reports ``progress(stage, done, total, detail)`` for every phase that can take long:

    wait    another writer holds the knowledge base (done: seconds waited; detail: whom it waits for)
    scan    files looked at while a source folder is walked (total 0: not known in advance)
    parse   files read, parsed and split
    ocr     pages recognised in scanned documents and images
    embed   chunks embedded
    write   chunks written to the store (in batches)
    index   the vector index updated

``overall`` maps a report to one 0..1 figure for a single bar, each phase taking the share of the
whole it usually takes; ``describe`` says it in words.
"""

from __future__ import annotations

from typing import Protocol

# stage: (label, where the phase starts on a single 0..1 bar, how much of it the phase spans)
STAGES: dict[str, tuple[str, float, float]] = {
    "wait": ("等待其他写入 / Waiting for another writer", 0.0, 0.0),
    "scan": ("扫描文件夹 / Scanning the folder", 0.0, 0.0),
    "parse": ("解析文件 / Parsing files", 0.0, 0.2),
    "ocr": ("识别扫描页 / OCR of scanned pages", 0.2, 0.1),
    "embed": ("向量化 / Embedding chunks", 0.3, 0.5),
    "write": ("写入 / Writing chunks", 0.8, 0.15),
    "index": ("更新索引 / Updating the index", 0.95, 0.05),
}


class Progress(Protocol):
    """progress(stage, done, total, detail): see the module docstring."""

    def __call__(self, stage: str, done: int, total: int, detail: str = "") -> None: ...


def no_progress(stage: str, done: int, total: int, detail: str = "") -> None:
    """A progress callback that shows nothing."""


def overall(stage: str, done: int, total: int) -> float:
    """Where a (stage, done, total) report lies on one 0..1 bar."""
    _, start, span = STAGES.get(stage, (stage, 0.0, 1.0))
    return min(max(start + span * (done / total if total else 1.0), 0.0), 1.0)


def describe(stage: str, done: int, total: int, detail: str = "") -> str:
    """The report in words, e.g. "向量化 / Embedding chunks 120/480"."""
    if stage == "wait":
        return f"{detail or STAGES['wait'][0]} ({done} s)"
    if stage == "scan":
        return f"{STAGES['scan'][0]}: {done}"
    label = STAGES.get(stage, (stage, 0.0, 1.0))[0]
    return f"{label} {done}/{total}" + (f" · {detail}" if detail else "")
