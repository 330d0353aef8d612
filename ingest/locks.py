"""One writer per knowledge base across processes: a file lock beside the knowledge-base folders.

The writer also leaves a note of what it is doing (``<name>.holder.json``: purpose, pid, host,
since), so a second writer can say whom it waits for ("waiting for the upload of big.txt, pid
4242, since 10:31") instead of failing after a silent pause.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from filelock import FileLock, Timeout

from ingest.errors import KnowledgeBaseBusy, KnowledgeBaseReadOnly

POLL_S = 0.5
Waiting = Callable[[str, float], None]
"""waiting(who holds the lock, seconds waited so far), called every POLL_S while waiting."""


def _holder_file(lock_dir: Path, name: str) -> Path:
    return lock_dir / f"{name}.holder.json"


def holder(folder: Path) -> str:
    """Who is changing the knowledge base in ``folder``, as a phrase ("the upload of x.txt (pid 12, since 10:31)")."""
    try:
        note = json.loads(_holder_file(folder.parent / ".locks", folder.name).read_text(encoding="utf-8"))
        since = datetime.fromisoformat(note["since"]).strftime("%H:%M:%S")
        return f"{note['purpose']} (pid {note['pid']} on {note['host']}, since {since})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


@contextlib.contextmanager
def write_lock(
    folder: Path, timeout_s: float, purpose: str = "a change", waiting: Waiting | None = None
) -> Iterator[None]:
    """Hold the knowledge base's write lock, waiting up to ``timeout_s`` (telling ``waiting``
    whom it waits for), or fail naming the holder."""
    lock_dir = folder.parent / ".locks"
    lock = FileLock(str(lock_dir / f"{folder.name}.lock"))
    started = time.monotonic()
    while True:
        try:
            lock_dir.mkdir(parents=True, exist_ok=True)
            lock.acquire(timeout=min(POLL_S, timeout_s))
            break
        except PermissionError:
            raise KnowledgeBaseReadOnly(
                f"knowledge base '{folder.name}' is read-only here ({lock_dir} cannot be written): it can be "
                "searched, but not changed"
            ) from None
        except Timeout:
            waited = time.monotonic() - started
            if waited >= timeout_s:
                raise KnowledgeBaseBusy(
                    f"knowledge base '{folder.name}' is being changed by {holder(folder)}; waited {waited:.0f} s "
                    "(KBA_LOCK_TIMEOUT_S), try again when it has finished"
                ) from None
            if waiting is not None:
                waiting(holder(folder), waited)
    note = _holder_file(lock_dir, folder.name)
    try:
        tmp = note.with_name(f".{note.name}.{os.getpid()}")
        since = datetime.now().isoformat()
        tmp.write_text(
            json.dumps({"purpose": purpose, "pid": os.getpid(), "host": socket.gethostname(), "since": since}),
            encoding="utf-8",
        )
        os.replace(tmp, note)
        yield
    finally:
        note.unlink(missing_ok=True)
        lock.release()
