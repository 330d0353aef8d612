"""The small JSON files that hold users and API keys, in ``<data_dir>/.auth/``.

Each file is read whole and replaced whole: a change is made under a file lock (two CLI runs
at once lose nothing), written to a temporary file readable by its owner only, flushed to disk
and renamed over the old one, so a reader never sees half a file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from filelock import FileLock

T = TypeVar("T")
AUTH_DIR = ".auth"
LOCK_TIMEOUT_S = 10.0


def auth_dir(data_dir: Path) -> Path:
    """Where a data dir keeps its users and keys (a dot folder: never listed as a knowledge base)."""
    return data_dir / AUTH_DIR


def read_entries(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; an empty one when the file does not exist yet."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    if not isinstance(payload, dict):
        raise ValueError(f"{path} does not hold a JSON object; restore it from a backup or delete it")
    return payload


def _write(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            json.dump(payload, out, ensure_ascii=False, indent=1, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def update_entries(path: Path, change: Callable[[dict[str, Any]], T]) -> T:
    """Apply ``change`` to the file's object in place, under the lock, and write it back atomically.

    Returns what ``change`` returns; when it raises, the file is left as it was.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with FileLock(str(path.with_name(f".{path.name}.lock")), timeout=LOCK_TIMEOUT_S):
        entries = read_entries(path)
        result = change(entries)
        _write(path, entries)
        return result
