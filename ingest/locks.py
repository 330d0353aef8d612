"""One writer per knowledge base across processes: a file lock beside the knowledge-base folders."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from ingest.errors import KnowledgeBaseBusy


@contextlib.contextmanager
def write_lock(folder: Path, timeout_s: float) -> Iterator[None]:
    """Hold the knowledge base's write lock, or fail clearly after ``timeout_s``."""
    lock_dir = folder.parent / ".locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_dir / f"{folder.name}.lock"))
    try:
        lock.acquire(timeout=timeout_s)
    except Timeout:
        raise KnowledgeBaseBusy(
            f"knowledge base '{folder.name}' is being changed by another process; waited {timeout_s:g} s, "
            "try again when it has finished"
        ) from None
    try:
        yield
    finally:
        lock.release()
