"""The FAISS cache of a store's window vectors, kept in step with the committed generation.

SQLite holds every vector (it is the truth); ``vectors-<generation>.faiss`` (and its tombstones,
``.dead.npy``) is a derived file. The writer records the file's checksum and live window count
in the same transaction that commits the generation, and moves the file into place right after;
a reader uses the file only when both match. A missing, stale or damaged file (a crash between
commit and rename, random bytes, a copy from elsewhere) is never trusted: the index is rebuilt
from SQLite instead, and saved again by the next writer.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ingest.stores import vectors

Rows = Callable[[], tuple[np.ndarray, np.ndarray]]
"""() -> (window ids, (n, dim) vectors) of every stored window, read from SQLite when needed."""


@dataclass(frozen=True)
class Stamp:
    """What the committed generation says its index file must be."""

    generation: int
    checksum: str
    windows: int  # live windows (ntotal minus tombstones)


@dataclass(frozen=True)
class PendingFiles:
    """An updated index written under temporary names, to be moved into place after the commit."""

    stamp: Stamp
    moves: tuple[tuple[Path, Path], ...]


def checksum(paths: list[Path]) -> str:
    """BLAKE2b over the bytes of ``paths`` in order (a missing path counts as empty)."""
    digest = hashlib.blake2b(digest_size=16)
    for path in paths:
        if path.exists():
            with path.open("rb") as file:
                while block := file.read(1 << 22):
                    digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


class IndexCache:
    """The in-memory FAISS index of one store and its file on disk."""

    def __init__(self, folder: Path, dim: int) -> None:
        self.folder, self.dim = folder, dim
        self.index = vectors.new_index(dim)
        self.dead = vectors.Tombstones()  # window ids still in an HNSW graph but removed
        self.generation = -1
        self.rebuilt_from_sqlite = False  # the file did not match its stamp: built in memory instead

    def file(self, generation: int) -> Path:
        return self.folder / f"vectors-{generation}.faiss"

    def live_windows(self) -> int:
        return int(self.index.ntotal) - len(self.dead)

    def refresh(self, stamp: Stamp, rows: Rows) -> None:
        """Hold the index of ``stamp.generation``: its file if it matches the stamp, else built from ``rows``."""
        if stamp.generation == self.generation:
            return
        path = self.file(stamp.generation)
        loaded = None
        if stamp.checksum and checksum([path, vectors.dead_file(path)]) == stamp.checksum:
            loaded = vectors.load_index(path, self.dim)
        if loaded is not None and int(loaded[0].ntotal) - len(loaded[1]) == stamp.windows:
            (self.index, self.dead), self.rebuilt_from_sqlite = loaded, False
        else:
            ids, matrix = rows()
            self.index, self.dead = vectors.build_index(self.dim, ids, matrix), vectors.Tombstones()
            self.rebuilt_from_sqlite = True
        self.generation = stamp.generation

    def update(
        self, generation: int, gone: list[int], new_ids: list[int], new_rows: list[np.ndarray], rows: Rows
    ) -> PendingFiles:
        """Apply a change in memory and write the result under temporary names (see PendingFiles).

        A flat index drops ``gone`` windows; an HNSW graph keeps them as tombstones until they pass
        MAX_DEAD_FRACTION of it; a flat index that grows past FLAT_LIMIT, or a graph with too many
        tombstones, is rebuilt from ``rows`` (which then already hold the change).
        """
        flat = vectors.is_flat(self.index)
        dead = self.dead if flat else self.dead.plus(gone)
        live_after = self.live_windows() - len(gone) + len(new_ids)
        if vectors.needs_rebuild(self.index, live_after + len(dead), len(dead)):
            ids, matrix = rows()
            self.index, self.dead = vectors.build_index(self.dim, ids, matrix), vectors.Tombstones()
        else:
            if gone and flat:
                self.index.remove_ids(np.array(gone, np.int64))
            if new_ids:
                self.index.add_with_ids(np.concatenate(new_rows).astype(np.float32), np.array(new_ids, np.int64))
            self.dead = dead
        self.generation = generation
        return self._write_pending(generation)

    def save_current(self) -> PendingFiles:
        """Write the index held now (e.g. rebuilt from SQLite) under temporary names."""
        return self._write_pending(self.generation)

    def _write_pending(self, generation: int) -> PendingFiles:
        final = self.file(generation)
        tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        tmp_dead = vectors.save_index(self.index, tmp, self.dead)
        moves = [(tmp, final), (tmp_dead, vectors.dead_file(final))]
        stamp = Stamp(generation, checksum([tmp, tmp_dead]), self.live_windows())
        return PendingFiles(stamp, tuple(moves))

    def commit_files(self, pending: PendingFiles) -> None:
        """Move a written index into place and delete every other generation's files."""
        for tmp, final in pending.moves:
            if tmp.exists():
                os.replace(tmp, final)
            else:
                final.unlink(missing_ok=True)
        keep = {final.name for _, final in pending.moves}
        for old in self.folder.glob("vectors-*"):
            if old.name not in keep:
                old.unlink(missing_ok=True)

    @staticmethod
    def discard(pending: PendingFiles) -> None:
        """Forget a written index whose transaction failed."""
        for tmp, _ in pending.moves:
            tmp.unlink(missing_ok=True)
