"""The embedded store: one folder per knowledge base, SQLite for the truth, FAISS for dense search.

    <data_dir>/<name>/kb.sqlite            documents, chunks, passages (text, window vectors), FTS5
    <data_dir>/<name>/vectors-<gen>.faiss  FAISS cache of the window vectors (index_cache.py)
    <data_dir>/<name>/files/<sha256>       the original documents (originals.py)
    <data_dir>/.locks/<name>.lock          held by whoever writes (ingest/locks.py)

A write goes in two steps. The new documents' chunks and passages are written in batches of
BATCH_CHUNKS (sqlite_rows.py), each batch its own short transaction with the WAL checkpointed after it, under
documents that are not yet *live* (readers never see them). One last, small transaction then
removes the replaced and removed documents, makes the new ones live and records the updated FAISS
file's checksum. A crash before that commit leaves the previous state whole (the next writer
deletes the unfinished rows); a crash after it leaves the new state whole. Nothing here unpickles.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ingest.errors import IndexMismatch, KnowledgeBaseError
from ingest.keywords import fts_query, keyword_tokens
from ingest.stores import sqlite
from ingest.stores import sqlite_rows as rows
from ingest.stores.base import (
    KnowledgeStore,
    PreparedDocument,
    Scored,
    WriteProgress,
    embedder_mismatch,
    no_progress,
)
from ingest.stores.index_cache import IndexCache, PendingFiles, Stamp
from ingest.stores.originals import Originals
from ingest.types import DocumentInfo, StoredChunk
from ingest.windows import best_passages, blended, mean_direction, passage_score, window_ids

COMMON_TERM_PASSAGES = 5_000  # see keyword_search
WINDOW_FANOUT = 4  # dense search reads this many windows per passage asked for (about 3 per 800 chars)

_CHUNK_COLUMNS = (
    "c.id, d.name, c.ordinal, p.text, c.page, c.heading, c.line_start, c.line_end, c.kind, c.ocr "
    "FROM chunks c JOIN documents d ON d.id = c.doc_id AND d.live = 1 JOIN passages p ON p.id = c.passage_id"
)


class EmbeddedStore(KnowledgeStore):
    """One knowledge base in a folder. Readers may share it between threads."""

    def __init__(self, folder: Path, writable: bool = False) -> None:
        self.folder = folder
        self.name = folder.name
        self.read_only = not writable
        if writable and not sqlite.is_writable(folder):
            raise sqlite.read_only_error(folder)
        self._guard = threading.RLock()
        self._db, meta = sqlite.connect(folder, writable)
        try:
            self._db.execute(
                "CREATE VIRTUAL TABLE IF NOT EXISTS temp.passages_vocab USING fts5vocab(main, passages_fts, row)"
            )
            self.embedder_name: str = meta["embedder"]
            self.dim = int(meta["dim"])
            self.window_chars = int(meta["window_chars"]) if "window_chars" in meta else None
        except (sqlite3.DatabaseError, KeyError, ValueError) as error:
            self._db.close()
            raise IndexMismatch(
                f"knowledge base '{self.name}' has an unreadable index ({error}); "
                f"rebuild it: python -m ingest rebuild --kb {self.name}"
            ) from error
        self._index = IndexCache(folder, self.dim)
        self._originals = Originals(folder)

    # --- opening and creating ---

    @classmethod
    def create(cls, folder: Path, embedder_name: str, dim: int, window_chars: int | None = None) -> EmbeddedStore:
        """Make a new, empty knowledge base (writable) whose vectors are embedded in windows of
        ``window_chars``; the folder appears whole or not at all."""
        if (folder / sqlite.DB_NAME).exists():
            raise KnowledgeBaseError(f"knowledge base '{folder.name}' already exists")
        staging = folder.with_name(f".{folder.name}.creating-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        try:
            staging.mkdir(parents=True)
        except PermissionError:
            raise KnowledgeBaseError(
                f"cannot create knowledge base '{folder.name}': {folder.parent} is read-only"
            ) from None
        meta = {"embedder": embedder_name, "dim": str(dim), "generation": "0", "created_at": rows.now()}
        if window_chars is not None:
            meta["window_chars"] = str(window_chars)
        sqlite.create_database(staging / sqlite.DB_NAME, meta)
        if folder.exists() and not any(folder.iterdir()):
            folder.rmdir()
        os.replace(staging, folder)
        return cls(folder, writable=True)

    @classmethod
    def open(cls, folder: Path, embedder_name: str | None = None, writable: bool = False) -> EmbeddedStore:
        """Open an existing knowledge base; with ``embedder_name``, insist that it was built with it."""
        store = cls(folder, writable)
        if embedder_name is not None and embedder_name != store.embedder_name:
            store.close()
            raise embedder_mismatch(folder.name, store.embedder_name, store.dim, embedder_name)
        return store

    def close(self) -> None:
        with self._guard:
            self._db.close()

    # --- reading ---

    @property
    def generation(self) -> int:
        return int(self._meta("generation") or 0)

    def documents(self) -> list[DocumentInfo]:
        rows = self._query(
            "SELECT d.name, d.kind, d.size_bytes, d.sha256, COUNT(c.id), d.added_at FROM documents d "
            "LEFT JOIN chunks c ON c.doc_id = d.id WHERE d.live = 1 GROUP BY d.id ORDER BY d.name"
        )
        return [DocumentInfo(*row) for row in rows]

    def document_hashes(self) -> dict[str, str]:
        return dict(self._query("SELECT name, sha256 FROM documents WHERE live = 1"))

    def is_empty(self) -> bool:
        return not self._query("SELECT 1 FROM chunks c JOIN documents d ON d.id = c.doc_id AND d.live = 1 LIMIT 1")

    def chunk_count(self) -> int:
        return int(
            self._query("SELECT COUNT(*) FROM chunks c JOIN documents d ON d.id = c.doc_id AND d.live = 1")[0][0]
        )

    def chunks_of(self, doc_name: str) -> list[StoredChunk]:
        return self._chunks("WHERE d.name = ? ORDER BY c.ordinal", (doc_name,))

    def chunk_at(self, doc_name: str, ordinal: int) -> StoredChunk | None:
        found = self._chunks("WHERE d.name = ? AND c.ordinal = ?", (doc_name, ordinal))
        return found[0] if found else None

    def passages(self, ids: Iterable[int]) -> dict[int, StoredChunk]:
        ids = list(dict.fromkeys(ids))
        if not ids:
            return {}
        first = (
            "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.doc_id AND d.live = 1 "
            "WHERE c.passage_id = p.id ORDER BY c.id LIMIT 1"
        )
        rows = self._query(f"SELECT p.id, ({first}) FROM passages p WHERE p.id IN ({','.join('?' * len(ids))})", ids)
        chunk_of = {int(cid): int(pid) for pid, cid in rows if cid is not None}
        if not chunk_of:
            return {}
        chunks = self._chunks(f"WHERE c.id IN ({','.join('?' * len(chunk_of))})", tuple(chunk_of))
        return {chunk_of[c.id]: c for c in chunks}

    def known_vectors(self, shas: Iterable[str]) -> dict[str, np.ndarray]:
        shas = list(dict.fromkeys(shas))
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(shas), 500):
            part = shas[start : start + 500]
            rows = self._query(
                f"SELECT text_sha, vectors FROM passages WHERE text_sha IN ({','.join('?' * len(part))})", part
            )
            found.update((sha, self._matrix(blob)) for sha, blob in rows)
        return found

    def keyword_search(self, query: str, k: int) -> Scored:
        """(passage id, BM25 score, higher is better) for the query's terms, best first.

        Terms found in more than COMMON_TERM_PASSAGES passages are left out of the query (the
        rarest is kept if all are that common): FTS5 scores every passage holding any term, so one
        such term made a query cost time linear in the store (bench: 606 ms p50 at 1M chunks),
        while its BM25 weight in a store that large is near zero. Smaller stores are searched in full.
        """
        if k <= 0:
            return []
        terms = list(dict.fromkeys(keyword_tokens(query)))
        common = self._common_terms(terms)
        expression = fts_query(t for t in terms if t not in common)
        if not expression:
            return []
        rows = self._query(
            "SELECT rowid, -bm25(passages_fts) AS s FROM passages_fts WHERE passages_fts MATCH ? "
            "ORDER BY s DESC LIMIT ?",
            (expression, k),
        )
        return [(int(i), float(s)) for i, s in rows]

    def dense_search(self, query_vector: np.ndarray, k: int, mean_weight: float = 0.0) -> Scored:
        with self._guard:
            self._refresh_index()
            best = best_passages(self._index.search(query_vector, k * WINDOW_FANOUT))
        if mean_weight and best:
            query = np.asarray(query_vector, np.float32)
            for pid, matrix in self._passage_vectors(list(best)).items():
                whole = float(mean_direction(matrix) @ query)
                best[pid] = blended(best[pid], whole, mean_weight)
        return sorted(best.items(), key=lambda item: (-item[1], item[0]))[:k]

    def dense_scores(self, query_vector: np.ndarray, ids: Iterable[int], mean_weight: float = 0.0) -> dict[int, float]:
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        return {
            pid: passage_score(matrix, query_vector, mean_weight)
            for pid, matrix in self._passage_vectors(wanted).items()
        }

    def original(self, doc_name: str) -> bytes:
        rows = self._query("SELECT sha256 FROM documents WHERE name = ? AND live = 1", (doc_name,))
        if not rows:
            raise KnowledgeBaseError(f"no document '{doc_name}' in knowledge base '{self.name}'")
        content = self._originals.read(rows[0][0])
        if content is None:
            raise KnowledgeBaseError(f"the stored original of '{doc_name}' is missing from {self._originals.folder}")
        return content

    def stats(self) -> dict[str, int | str]:
        docs = int(self._query("SELECT COUNT(*) FROM documents WHERE live = 1")[0][0])
        passages, chars, vector_bytes = self._query(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(text)), 0), COALESCE(SUM(LENGTH(vectors)), 0) FROM passages"
        )[0]
        disk = sum(p.stat().st_size for p in self.folder.rglob("*") if p.is_file())
        return {
            "name": self.name,
            "documents": docs,
            "chunks": self.chunk_count(),
            "passages": passages,
            "windows": self._windows_in(vector_bytes),
            "characters": chars,
            "embedder": self.embedder_name,
            "dim": self.dim,
            **({"window_chars": self.window_chars} if self.window_chars else {}),
            "generation": self.generation,
            "disk_bytes": disk,
        }

    # --- writing (hold write_lock) ---

    def apply(
        self, upserts: Iterable[PreparedDocument], removals: Iterable[str] = (), progress: WriteProgress = no_progress
    ) -> None:
        """Add or replace documents and remove others (see the module docstring for the two steps)."""
        if self.read_only:
            raise sqlite.read_only_error(self.folder)
        upserts, removals = list(upserts), list(removals)
        with self._guard:
            rows.discard_unfinished(self._db, self.dim)
            self._refresh_index()  # before staging: a rebuild from SQLite must not hold the new passages yet
            for doc in upserts:  # durable before any commit refers to them
                if doc.content is not None:
                    self._originals.put(doc.sha256, doc.content)
            try:
                staged, new_passages = rows.stage(self._db, upserts, self.dim, progress)
            except BaseException:
                rows.discard_unfinished(self._db, self.dim)
                raise
            self._make_live(staged, removals, new_passages, progress)
            self._originals.keep_only(sha for (sha,) in self._db.execute("SELECT DISTINCT sha256 FROM documents"))
            rows.checkpoint(self._db, "TRUNCATE")

    def verify_index(self) -> bool:
        """Make sure the saved FAISS file matches the database (rebuilding and saving it if not);
        True when it had to be rebuilt."""
        if self.read_only:
            raise sqlite.read_only_error(self.folder)
        with self._guard:
            self._refresh_index()
            if not self._index.rebuilt_from_sqlite:
                return False
            pending = self._index.save_current()
            self._db.execute("BEGIN IMMEDIATE")
            try:
                rows.write_stamp(self._db, pending.stamp)
                self._db.execute("COMMIT")
            except BaseException:
                rows.rollback(self._db)
                IndexCache.discard(pending)
                raise
            self._index.commit_files(pending)
            self._index.rebuilt_from_sqlite = False
            return True

    # --- internals: reading ---

    def _query(self, sql: str, params: Iterable[object] = ()) -> list[tuple]:
        with self._guard:
            return self._db.execute(sql, tuple(params)).fetchall()

    def _meta(self, key: str) -> str | None:
        row = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return row[0][0] if row else None

    def _stamp(self) -> Stamp:
        values = dict(
            self._query("SELECT key, value FROM meta WHERE key IN ('generation', 'index_checksum', 'index_windows')")
        )
        return Stamp(
            int(values.get("generation", 0)), values.get("index_checksum", ""), int(values.get("index_windows", -1))
        )

    def _matrix(self, blob: bytes) -> np.ndarray:
        return np.frombuffer(blob, np.float32).reshape(-1, self.dim)

    def _windows_in(self, nbytes: int) -> int:
        """How many float32 window vectors ``nbytes`` of a ``vectors`` blob hold."""
        return nbytes // (4 * self.dim)

    def _passage_vectors(self, ids: list[int]) -> dict[int, np.ndarray]:
        rows = self._query(f"SELECT id, vectors FROM passages WHERE id IN ({','.join('?' * len(ids))})", ids)
        return {int(pid): self._matrix(blob) for pid, blob in rows}

    def _chunks(self, where: str, params: tuple) -> list[StoredChunk]:
        rows = self._query(f"SELECT {_CHUNK_COLUMNS} {where}", params)
        return [
            StoredChunk(cid, name, ordinal, text, page, heading, (a, b) if a is not None else None, kind, bool(ocr))
            for cid, name, ordinal, text, page, heading, a, b, kind, ocr in rows
        ]

    def _common_terms(self, terms: list[str]) -> set[str]:
        """Which of ``terms`` occur in more than COMMON_TERM_PASSAGES passages (all but the rarest, if all do)."""
        if not terms:
            return set()
        marks = ",".join("?" * len(terms))
        frequency = dict(self._query(f"SELECT term, doc FROM temp.passages_vocab WHERE term IN ({marks})", terms))
        common = {t for t in terms if frequency.get(t, 0) > COMMON_TERM_PASSAGES}
        if common and common.issuperset(terms):
            common.discard(min(common, key=frequency.__getitem__))
        return common

    def _all_windows(self) -> tuple[np.ndarray, np.ndarray]:
        rows = self._db.execute("SELECT id, vectors FROM passages ORDER BY id").fetchall()
        ids = np.concatenate([window_ids(pid, self._windows_in(len(blob))) for pid, blob in rows] or [[]])
        matrix = np.frombuffer(b"".join(blob for _, blob in rows), np.float32).reshape(len(ids), self.dim)
        return ids.astype(np.int64), matrix

    def _refresh_index(self) -> None:
        """Hold the FAISS index of the committed generation (another process may have written)."""
        self._index.refresh(self._stamp(), self._all_windows)

    # --- internals: writing ---

    def _make_live(
        self,
        staged: rows.Staged,
        removals: list[str],
        created: rows.Created,
        progress: WriteProgress,
    ) -> None:
        """The one short transaction that switches readers to the new state (the in-memory index
        must hold the previous generation: apply refreshes it before staging)."""
        names = removals + [name for _, name in staged]
        progress("index", 0, len(created))
        pending: PendingFiles | None = None
        self._db.execute("BEGIN IMMEDIATE")
        try:
            old = [
                doc_id
                for start in range(0, len(names), 500)
                for (doc_id,) in self._db.execute(
                    f"SELECT id FROM documents WHERE live = 1 AND name IN ({_marks(names[start : start + 500])})",
                    names[start : start + 500],
                )
            ]
            gone = rows.delete_documents(self._db, old, self.dim)
            self._db.executemany("UPDATE documents SET live = 1 WHERE id = ?", [(doc_id,) for doc_id, _ in staged])
            new_ids = [int(w) for pid, m in created for w in window_ids(pid, len(m))]
            generation = self.generation + 1
            pending = self._index.update(generation, gone, new_ids, [m for _, m in created], self._all_windows)
            self._db.execute("UPDATE meta SET value = ? WHERE key = 'generation'", (str(generation),))
            rows.write_stamp(self._db, pending.stamp)
            self._db.execute("COMMIT")
        except BaseException:
            rows.rollback(self._db)
            if pending is not None:
                IndexCache.discard(pending)
            self._index.generation = -1  # the in-memory index may hold the change: reload it
            raise
        self._index.commit_files(pending)
        progress("index", len(created), len(created))


def list_knowledge_bases(data_dir: Path) -> list[str]:
    """Names of the embedded knowledge bases under ``data_dir``."""
    if not data_dir.is_dir():
        return []
    return sorted(p.name for p in data_dir.iterdir() if (p / sqlite.DB_NAME).is_file() and not p.name.startswith("."))


def _marks(values: list) -> str:
    return ",".join("?" * len(values))
