"""The original files of a knowledge base, kept so it can be rebuilt (a new embedder, a new version).

Each original is stored once under its SHA-256, ``files/<sha256>``, written durably (a temporary
name, fsync, rename, fsync of the folder) *before* the commit that refers to it: a crash at any
moment leaves every committed document with its original. An original no document refers to any
more (a removed document, or one written just before a crash) is deleted by ``keep_only``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

FILES_DIR = "files"
_SHA = re.compile(r"[0-9a-f]{64}")


class Originals:
    """The ``files/`` folder of one knowledge base."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder / FILES_DIR

    def path(self, sha256: str) -> Path:
        """Where the original with this hash is (or would be) stored."""
        if not _SHA.fullmatch(sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.folder / sha256

    def has(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def put(self, sha256: str, content: bytes) -> None:
        """Store ``content`` under its hash, durably; nothing is written if it is already there."""
        target = self.path(sha256)
        if target.is_file() and target.stat().st_size == len(content):
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{sha256}.{os.getpid()}.tmp")
        try:
            with tmp.open("wb") as out:
                out.write(content)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_folder(self.folder)

    def read(self, sha256: str) -> bytes | None:
        """The original's bytes, or None when it is missing."""
        try:
            return self.path(sha256).read_bytes()
        except FileNotFoundError:
            return None

    def keep_only(self, wanted: Iterable[str]) -> None:
        """Delete every stored original (and stale temporary file) whose hash is not in ``wanted``."""
        if not self.folder.is_dir():
            return
        keep = set(wanted)
        for entry in self.folder.iterdir():
            if entry.name not in keep and entry.is_file():
                entry.unlink(missing_ok=True)


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
