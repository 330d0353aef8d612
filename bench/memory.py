"""Part 4, memory: resident memory of an app-like process, idle and with a 100k-chunk knowledge base.

The knowledge base is synthetic (bench/synthetic.py) but carries the default embedder's name, so
the real ``Assistant`` (rag/chain.py, extractive backend, real query embedding) opens it. Each
probe is a fresh process (bench/memory_probe.py), so nothing of this process's memory is counted.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from typing import Any

import numpy as np

from bench.common import BENCH_QUESTIONS, CORPUS, REPO, RunOptions, load_average, write_json
from bench.synthetic import SentencePool, build_store, embedder_base, synthetic_texts, synthetic_vectors
from ingest.stores.sqlite import DB_NAME
from rag.config import Settings

SIZE = 100_000
TEXT_CHARS = 300


def _probe(data_dir: str, kb_name: str, spec: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "bench.memory_probe", data_dir, kb_name, spec, str(BENCH_QUESTIONS)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"memory probe failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(opts: RunOptions) -> dict[str, Any]:
    """Build the knowledge bases, probe, write memory.json and return its content."""
    spec = "hashing" if opts.quick else Settings().embedder
    size = 2_000 if opts.quick else SIZE
    data_dir = opts.work / "memory"
    shutil.rmtree(data_dir, ignore_errors=True)
    started_load = load_average()
    name, base = embedder_base(spec)
    rng = np.random.default_rng(size)
    texts, terms = synthetic_texts(SentencePool.from_folder(CORPUS), size, TEXT_CHARS, rng)
    kb = build_store(data_dir / "large", name, texts, terms, synthetic_vectors(base, size, rng))
    kb.close()
    small = build_store(data_dir / "small", name, texts[:100], terms[:100], base[:100])
    small.close()
    del texts, terms, kb, small
    disk_mb = sum(p.stat().st_size for p in (data_dir / "large").rglob("*") if p.is_file()) / 2**20
    small_probe = _probe(str(data_dir), "small", spec)
    large_probe = _probe(str(data_dir), "large", spec)
    result = {
        "quick": opts.quick,
        "embedder": spec,
        "llm_backend": "extractive",
        "chunks": size,
        "text_chars": TEXT_CHARS,
        "kb_disk_mb": round(disk_mb, 1),
        "kb_sqlite_mb": round((data_dir / "large" / DB_NAME).stat().st_size / 2**20, 1),
        "small_kb_100_chunks": small_probe,
        "large_kb": large_probe,
        "load_average": {"start": started_load, "end": load_average()},
    }
    write_json(opts.out / "memory.json", result)
    shutil.rmtree(data_dir, ignore_errors=True)
    return result
