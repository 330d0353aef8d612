"""The FAISS cache of a store's window vectors, kept in step with the committed generation.

SQLite holds every vector (it is the truth); ``vectors-<generation>.faiss`` and the files beside
it (tombstones ``.dead.npy``, exact parts ``.repeats`` and ``.side``) are derived files. The writer
records their checksum and live window count in the same transaction that commits the generation,
and moves them into place right after; a reader uses them only when both match. A missing, stale
or damaged file (a crash between commit and rename, random bytes, a copy from elsewhere) is never
trusted: the index is rebuilt from SQLite instead, and saved again by the next writer.

Up to FLAT_LIMIT windows the index is one flat index that takes every change. Past it the index is
a graph of distinct vectors with two exact parts beside it, all three searched and merged
(ingest/stores/vectors.py says why): *repeats* of graph vectors found at the rebuild, and a *side*
index of the windows added since. An update adds new windows to the side index; a gone window
leaves the exact part holding it, or becomes a tombstone if it is in the graph. The graph is
rebuilt from SQLite, folding both parts in, when the side index passes SIDE_SHARE of it or the
tombstones pass MAX_DEAD_FRACTION; the parts are saved with the graph (one checksum), so a reopened
store searches the same windows in the same parts.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import faiss
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
    """The in-memory FAISS index of one store (graph or flat, exact parts, tombstones) and its files."""

    def __init__(self, folder: Path, dim: int) -> None:
        self.folder, self.dim = folder, dim
        self.index = vectors.new_index(dim)
        self.parts = {name: vectors.new_side(dim) for name in vectors.PARTS}  # empty beside a flat index
        self.dead = vectors.Tombstones()  # window ids still in an HNSW graph but removed
        self.generation = -1
        self.rebuilt_from_sqlite = False  # the file did not match its stamp: built in memory instead

    @property
    def side(self) -> faiss.Index:
        """Windows added since the graph was built."""
        return self.parts["side"]

    def file(self, generation: int) -> Path:
        return self.folder / f"vectors-{generation}.faiss"

    def live_windows(self) -> int:
        return _live(self.index, self.dead, self.parts)

    def refresh(self, stamp: Stamp, rows: Rows) -> None:
        """Hold the index of ``stamp.generation``: its files if they match the stamp, else built from ``rows``."""
        if stamp.generation == self.generation:
            return
        path = self.file(stamp.generation)
        loaded = None
        if stamp.checksum and checksum(_files(path)) == stamp.checksum:
            loaded = vectors.load_index(path, self.dim)
        if loaded is not None and _live(*loaded) == stamp.windows:
            (self.index, self.dead, self.parts), self.rebuilt_from_sqlite = loaded, False
        else:
            self._rebuild(rows)
            self.rebuilt_from_sqlite = True
        self.generation = stamp.generation

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(window id, cosine similarity) of the ``k`` nearest live windows in every part of the index."""
        return vectors.search(self.index, query, k, self.dead, tuple(self.parts.values()))

    def update(
        self, generation: int, gone: list[int], new_ids: list[int], new_rows: list[np.ndarray], rows: Rows
    ) -> PendingFiles:
        """Apply a change in memory and write the result under temporary names (see PendingFiles).

        A flat index takes the change itself. Beside a graph, new windows go into the side index
        and gone ones leave the exact part holding them, or become tombstones if they are in the
        graph. A flat index that grows past FLAT_LIMIT, or a graph with too many tombstones or too
        large a side index, is rebuilt from ``rows`` (which then already hold the change).
        """
        flat = vectors.is_flat(self.index)
        into_main = flat or vectors.SIDE_SHARE is None
        left = np.asarray(gone, np.int64)
        leaving = {}
        for name, part in self.parts.items():
            leaving[name] = np.intersect1d(left, vectors.ids_of(part)) if len(left) and part.ntotal else left[:0]
            left = np.setdiff1d(left, leaving[name])
        dead = self.dead if flat else self.dead.plus(left.tolist())
        side_after = self.side.ntotal - len(leaving["side"]) + (0 if into_main else len(new_ids))
        main_after = self.index.ntotal - (len(left) if flat else 0) + (len(new_ids) if into_main else 0)
        if vectors.needs_rebuild(self.index, main_after, len(dead), side_after):
            self._rebuild(rows)
        else:
            if flat and len(left):
                self.index.remove_ids(left)
            for name, ids in leaving.items():
                if len(ids):
                    self.parts[name].remove_ids(ids)
            if new_ids:
                target = self.index if into_main else self.side
                target.add_with_ids(np.concatenate(new_rows).astype(np.float32), np.array(new_ids, np.int64))
            self.dead = dead
        self.generation = generation
        return self._write_pending(generation)

    def save_current(self) -> PendingFiles:
        """Write the index held now (e.g. rebuilt from SQLite) under temporary names."""
        return self._write_pending(self.generation)

    def _write_pending(self, generation: int) -> PendingFiles:
        final = self.file(generation)
        tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        vectors.save_index(self.index, tmp, self.dead, self.parts)
        moves = tuple(zip(_files(tmp), _files(final), strict=True))
        stamp = Stamp(generation, checksum(_files(tmp)), self.live_windows())
        return PendingFiles(stamp, moves)

    def _rebuild(self, rows: Rows) -> None:
        """Every stored window in one new index (a graph and its repeats past FLAT_LIMIT), no tombstones."""
        ids, matrix = rows()
        self.index, repeats = vectors.build_index(self.dim, ids, matrix)
        self.parts = {"repeats": repeats, "side": vectors.new_side(self.dim)}
        self.dead = vectors.Tombstones()

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


def _live(index: faiss.Index, dead: vectors.Tombstones, parts: dict[str, faiss.Index]) -> int:
    return int(index.ntotal) + sum(int(p.ntotal) for p in parts.values()) - len(dead)


def _files(path: Path) -> list[Path]:
    """The index at ``path`` and the files kept beside it, in checksum order."""
    return [path, vectors.dead_file(path), *(vectors.part_file(path, name) for name in vectors.PARTS)]
