"""A knowledge base on disk: SQLite (documents, chunks, window vectors, FTS5 keyword index) + FAISS.

    <data_dir>/<name>/kb.sqlite            the truth: every change is one transaction
    <data_dir>/<name>/vectors-<gen>.faiss  FAISS cache of the window vectors for generation <gen>
    <data_dir>/<name>/files/               the original documents, under safe names
    <data_dir>/.locks/<name>.lock          held by whoever writes (ingest/locks.py)

A crash at any point leaves the last committed generation whole: the FAISS file of a newer or
older generation is ignored and rebuilt from the vectors in SQLite. Nothing here unpickles.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from ingest import vectors
from ingest.errors import IndexMismatch, KnowledgeBaseError, KnowledgeBaseNotFound
from ingest.keywords import fts_document, fts_query, keyword_tokens
from ingest.types import ChunkText, DocumentInfo, StoredChunk
from ingest.windows import chunk_of, mean_direction, window_ids

SCHEMA_VERSION = 2  # 2: one vector per window of a chunk (ingest/windows.py)
COMMON_TERM_CHUNKS = 5_000  # see keyword_search
WINDOW_FANOUT = 4  # dense search reads this many windows per chunk asked for (about 3 per 800 chars)
DB_NAME = "kb.sqlite"
FILES_DIR = "files"

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE documents (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
    size_bytes INTEGER NOT NULL, sha256 TEXT NOT NULL, added_at TEXT NOT NULL);
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: a removed chunk's windows may linger as tombstones
    doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL, text TEXT NOT NULL, page INTEGER, heading TEXT,
    text_sha TEXT NOT NULL, vectors BLOB NOT NULL);
CREATE INDEX chunks_by_doc ON chunks(doc_id, ordinal);
CREATE INDEX chunks_by_text ON chunks(text_sha);
CREATE VIRTUAL TABLE chunks_fts USING fts5(terms, tokenize = 'unicode61 remove_diacritics 2');
"""


@dataclass
class PreparedDocument:
    """A document split and embedded, ready to be written in one transaction."""

    name: str
    kind: str
    size_bytes: int
    sha256: str
    chunks: list[ChunkText]
    vectors: list[np.ndarray]  # per chunk, (windows, dim) unit rows
    content: bytes  # the original file, kept under files/


def text_sha(text: str) -> str:
    """Key under which a chunk's vector can be reused."""
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


class KnowledgeBase:
    """One knowledge base. Safe to share between threads; writers hold ingest.locks.write_lock."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.name = folder.name
        self._guard = threading.RLock()
        self._db = sqlite3.connect(folder / DB_NAME, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.execute("PRAGMA busy_timeout = 30000")
        self._db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.chunks_vocab USING fts5vocab(main, chunks_fts, row)")
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        if int(meta.get("schema_version", -1)) != SCHEMA_VERSION:
            self._db.close()
            raise IndexMismatch(
                f"knowledge base '{self.name}' was written by another version of this program (index "
                f"format {meta.get('schema_version', 'unknown')}, this version reads {SCHEMA_VERSION}); "
                f"rebuild it: python -m ingest rebuild --kb {self.name}"
            )
        self.embedder_name: str = meta["embedder"]
        self.dim = int(meta["dim"])
        self._index_generation = -1
        self._index = vectors.new_index(self.dim)
        self._dead = vectors.Tombstones()  # window ids still in an HNSW index but removed (vectors.py)

    # --- opening and creating ---

    @classmethod
    def create(cls, folder: Path, embedder_name: str, dim: int) -> KnowledgeBase:
        """Make a new, empty knowledge base; the folder appears whole or not at all."""
        if (folder / DB_NAME).exists():
            raise KnowledgeBaseError(f"knowledge base '{folder.name}' already exists")
        staging = folder.with_name(f".{folder.name}.creating-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        (staging / FILES_DIR).mkdir(parents=True)
        db = sqlite3.connect(staging / DB_NAME)
        with db:
            db.execute("PRAGMA journal_mode = WAL")
            db.executescript(_SCHEMA)
            db.executemany(
                "INSERT INTO meta VALUES (?, ?)",
                [
                    ("schema_version", str(SCHEMA_VERSION)),
                    ("embedder", embedder_name),
                    ("dim", str(dim)),
                    ("generation", "0"),
                    ("created_at", _now()),
                ],
            )
        db.close()
        if folder.exists() and not any(folder.iterdir()):
            folder.rmdir()
        os.replace(staging, folder)
        return cls(folder)

    @classmethod
    def open(cls, folder: Path, embedder_name: str | None = None) -> KnowledgeBase:
        """Open an existing knowledge base; with ``embedder_name``, insist that it was built with it."""
        if not (folder / DB_NAME).is_file():
            raise KnowledgeBaseNotFound(f"knowledge base '{folder.name}' does not exist (no index in {folder})")
        try:
            kb = cls(folder)
        except (sqlite3.DatabaseError, KeyError, ValueError) as error:
            raise IndexMismatch(
                f"knowledge base '{folder.name}' has an unreadable index ({error}); "
                f"rebuild it: python -m ingest rebuild --kb {folder.name}"
            ) from error
        if embedder_name is not None and embedder_name != kb.embedder_name:
            kb.close()
            raise IndexMismatch(
                f"knowledge base '{folder.name}' was built with embedder '{kb.embedder_name}' (dim {kb.dim}), "
                f"but the configured embedder is '{embedder_name}': set KBA_EMBEDDER to match, or re-embed it "
                f"with: python -m ingest rebuild --kb {folder.name}"
            )
        return kb

    def close(self) -> None:
        with self._guard:
            self._db.close()

    # --- reading ---

    @property
    def generation(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0])

    def documents(self) -> list[DocumentInfo]:
        """Every document with its chunk count, by name."""
        rows = self._query(
            "SELECT d.name, d.kind, d.size_bytes, d.sha256, COUNT(c.id), d.added_at FROM documents d "
            "LEFT JOIN chunks c ON c.doc_id = d.id GROUP BY d.id ORDER BY d.name"
        )
        return [DocumentInfo(*row) for row in rows]

    def document_hashes(self) -> dict[str, str]:
        return dict(self._query("SELECT name, sha256 FROM documents"))

    def is_empty(self) -> bool:
        """Whether the knowledge base holds no chunk (cheap at any size, unlike a count)."""
        return not self._query("SELECT 1 FROM chunks LIMIT 1")

    def chunk_count(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM chunks")[0][0])

    def chunks_of(self, doc_name: str) -> list[StoredChunk]:
        """The chunks of one document in reading order."""
        return self._chunks("WHERE d.name = ? ORDER BY c.ordinal", (doc_name,))

    def get_chunks(self, ids: Iterable[int]) -> dict[int, StoredChunk]:
        ids = list(ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        return {c.id: c for c in self._chunks(f"WHERE c.id IN ({marks})", tuple(ids))}

    def chunk_at(self, doc_name: str, ordinal: int) -> StoredChunk | None:
        found = self._chunks("WHERE d.name = ? AND c.ordinal = ?", (doc_name, ordinal))
        return found[0] if found else None

    def known_vectors(self, shas: Iterable[str]) -> dict[str, np.ndarray]:
        """Window vectors already computed for chunk texts with these hashes (to skip re-embedding)."""
        shas = list(dict.fromkeys(shas))
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(shas), 500):
            part = shas[start : start + 500]
            rows = self._query(
                f"SELECT text_sha, vectors FROM chunks WHERE text_sha IN ({','.join('?' * len(part))})", part
            )
            found.update((sha, self._matrix(blob)) for sha, blob in rows)
        return found

    def file_path(self, doc_name: str) -> Path:
        return self.folder / FILES_DIR / doc_name

    def keyword_search(self, query: str, k: int) -> list[tuple[int, float]]:
        """(chunk id, BM25 score, higher is better) for the query's terms, best first.

        Terms found in more than COMMON_TERM_CHUNKS chunks are left out of the query (the rarest
        is kept if all are that common): FTS5 scores every chunk holding any term, so one such
        term made a query cost time linear in the store (bench: 606 ms p50 at 1M chunks), while
        its BM25 weight in a store that large is near zero. Smaller stores are searched in full.
        """
        if k <= 0:
            return []
        terms = list(dict.fromkeys(keyword_tokens(query)))
        common = self._common_terms(terms)
        expression = fts_query(t for t in terms if t not in common)
        if not expression:
            return []
        rows = self._query(
            "SELECT rowid, -bm25(chunks_fts) AS s FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY s DESC LIMIT ?",
            (expression, k),
        )
        return [(int(i), float(s)) for i, s in rows]

    def _common_terms(self, terms: list[str]) -> set[str]:
        """Which of ``terms`` occur in more than COMMON_TERM_CHUNKS chunks (all but the rarest, if all do)."""
        if not terms:
            return set()
        marks = ",".join("?" * len(terms))
        frequency = dict(self._query(f"SELECT term, doc FROM temp.chunks_vocab WHERE term IN ({marks})", terms))
        common = {t for t in terms if frequency.get(t, 0) > COMMON_TERM_CHUNKS}
        if common and common.issuperset(terms):
            common.discard(min(common, key=frequency.__getitem__))
        return common

    def dense_search(self, query_vector: np.ndarray, k: int, mean_weight: float = 0.0) -> list[tuple[int, float]]:
        """(chunk id, similarity) of the ``k`` nearest chunks, best first.

        A chunk's similarity is the cosine of its best window, blended with ``mean_weight`` of the
        cosine of its windows' mean direction (the chunk as a whole). Chunks come from the
        ``k * WINDOW_FANOUT`` nearest windows.
        """
        with self._guard:
            self._refresh_index()
            hits = vectors.search(self._index, query_vector, k * WINDOW_FANOUT, self._dead)
        best: dict[int, float] = {}
        for window, score in hits:
            best.setdefault(chunk_of(window), score)  # hits come best first
        if mean_weight and best:
            query = np.asarray(query_vector, np.float32)
            for cid, matrix in self._window_vectors(list(best)).items():
                whole = float(mean_direction(matrix) @ query)
                best[cid] = (1 - mean_weight) * best[cid] + mean_weight * whole
        return sorted(best.items(), key=lambda item: (-item[1], item[0]))[:k]

    # --- writing (hold write_lock) ---

    def apply(self, upserts: Iterable[PreparedDocument], removals: Iterable[str] = ()) -> None:
        """Add or replace documents and remove others, all in one transaction."""
        upserts, removals = list(upserts), list(removals)
        with self._guard:
            self._refresh_index()
            gone_ids: list[int] = []
            new_ids: list[int] = []
            new_vectors: list[np.ndarray] = []
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for name in removals + [d.name for d in upserts]:
                    gone_ids += self._delete_document(name)
                for doc in upserts:
                    ids = self._insert_document(doc)
                    new_ids += ids
                    new_vectors += doc.vectors
                generation = self.generation + 1
                self._db.execute("UPDATE meta SET value = ? WHERE key = 'generation'", (str(generation),))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._update_index(generation, gone_ids, new_ids, new_vectors)
            self._sync_files(upserts, removals)

    def stats(self) -> dict[str, int | str]:
        docs, chunks, chars, vector_bytes = self._query(
            "SELECT (SELECT COUNT(*) FROM documents), COUNT(*), COALESCE(SUM(LENGTH(text)), 0), "
            "COALESCE(SUM(LENGTH(vectors)), 0) FROM chunks"
        )[0]
        disk = sum(p.stat().st_size for p in self.folder.rglob("*") if p.is_file())
        return {
            "name": self.name,
            "documents": docs,
            "chunks": chunks,
            "windows": self._windows_in(vector_bytes),
            "characters": chars,
            "embedder": self.embedder_name,
            "dim": self.dim,
            "generation": self.generation,
            "disk_bytes": disk,
        }

    # --- internals ---

    def _query(self, sql: str, params: Iterable[object] = ()) -> list[tuple]:
        with self._guard:
            return self._db.execute(sql, tuple(params)).fetchall()

    def _matrix(self, blob: bytes) -> np.ndarray:
        return np.frombuffer(blob, np.float32).reshape(-1, self.dim)

    def _windows_in(self, nbytes: int) -> int:
        """How many float32 window vectors ``nbytes`` of a ``vectors`` blob hold."""
        return nbytes // (4 * self.dim)

    def _window_vectors(self, chunk_ids: list[int]) -> dict[int, np.ndarray]:
        marks = ",".join("?" * len(chunk_ids))
        rows = self._query(f"SELECT id, vectors FROM chunks WHERE id IN ({marks})", chunk_ids)
        return {int(cid): self._matrix(blob) for cid, blob in rows}

    def _chunks(self, where: str, params: tuple) -> list[StoredChunk]:
        rows = self._query(
            "SELECT c.id, d.name, c.ordinal, c.text, c.page, c.heading FROM chunks c "
            f"JOIN documents d ON d.id = c.doc_id {where}",
            params,
        )
        return [StoredChunk(*row) for row in rows]

    def _delete_document(self, name: str) -> list[int]:
        """Delete one document; returns the FAISS ids of its windows."""
        rows = self._db.execute(
            "SELECT c.id, LENGTH(c.vectors) FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE d.name = ?",
            (name,),
        ).fetchall()
        self._db.executemany("DELETE FROM chunks_fts WHERE rowid = ?", [(cid,) for cid, _ in rows])
        self._db.execute("DELETE FROM documents WHERE name = ?", (name,))
        return [int(w) for cid, size in rows for w in window_ids(cid, self._windows_in(size))]

    def _insert_document(self, doc: PreparedDocument) -> list[int]:
        """Insert one document; returns the FAISS ids of its windows, in the order of its vectors."""
        shapes = [np.shape(m) for m in doc.vectors]
        if len(shapes) != len(doc.chunks) or any(len(s) != 2 or s[0] < 1 or s[1] != self.dim for s in shapes):
            raise KnowledgeBaseError(
                f"{doc.name}: window vectors of shapes {shapes[:3]}..., expected one (windows, {self.dim}) "
                f"matrix for each of {len(doc.chunks)} chunks"
            )
        doc_id = self._db.execute(
            "INSERT INTO documents (name, kind, size_bytes, sha256, added_at) VALUES (?, ?, ?, ?, ?)",
            (doc.name, doc.kind, doc.size_bytes, doc.sha256, _now()),
        ).lastrowid
        ids = []
        for ordinal, (chunk, matrix) in enumerate(zip(doc.chunks, doc.vectors, strict=True)):
            chunk_id = self._db.execute(
                "INSERT INTO chunks (doc_id, ordinal, text, page, heading, text_sha, vectors) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    doc_id,
                    ordinal,
                    chunk.text,
                    chunk.page,
                    chunk.heading,
                    text_sha(chunk.text),
                    np.ascontiguousarray(matrix, np.float32).tobytes(),
                ),
            ).lastrowid
            self._db.execute(
                "INSERT INTO chunks_fts (rowid, terms) VALUES (?, ?)",
                (chunk_id, fts_document(f"{chunk.heading or ''}\n{chunk.text}")),
            )
            ids += [int(w) for w in window_ids(chunk_id, len(matrix))]
        return ids

    def _index_file(self, generation: int) -> Path:
        return self.folder / f"vectors-{generation}.faiss"

    def _refresh_index(self) -> None:
        """Make the in-memory FAISS index match the committed generation (another process may write)."""
        generation = self.generation
        if generation == self._index_generation:
            return
        loaded = vectors.load_index(self._index_file(generation), self.dim)
        if loaded is None:
            rows = self._db.execute("SELECT id, vectors FROM chunks ORDER BY id").fetchall()
            ids = np.concatenate([window_ids(cid, self._windows_in(len(blob))) for cid, blob in rows] or [[]])
            matrix = np.frombuffer(b"".join(blob for _, blob in rows), np.float32).reshape(len(ids), self.dim)
            loaded = vectors.build_index(self.dim, ids.astype(np.int64), matrix), vectors.Tombstones()
            vectors.save_index(loaded[0], self._index_file(generation), loaded[1])
        (self._index, self._dead), self._index_generation = loaded, generation

    def _update_index(self, generation: int, gone: list[int], new: list[int], rows: list[np.ndarray]) -> None:
        flat = vectors.is_flat(self._index)
        dead = self._dead if flat else self._dead.plus(gone)
        live_after = self._index.ntotal - len(dead) - (len(gone) if flat else 0) + len(new)
        if vectors.needs_rebuild(self._index, live_after, len(dead)):
            self._index_generation = -1  # rebuilt from SQLite, as the right index type, by the refresh below
        else:
            if gone and flat:
                self._index.remove_ids(np.array(gone, np.int64))
            if new:
                self._index.add_with_ids(np.concatenate(rows).astype(np.float32), np.array(new, np.int64))
            self._dead = dead
            vectors.save_index(self._index, self._index_file(generation), self._dead)
            self._index_generation = generation
        current = self._index_file(generation).name
        for old in self.folder.glob("vectors-*"):
            if old.name not in {current, current + ".dead.npy"}:
                old.unlink(missing_ok=True)
        self._refresh_index()

    def _sync_files(self, upserts: list[PreparedDocument], removals: list[str]) -> None:
        for name in removals:
            self.file_path(name).unlink(missing_ok=True)
        for doc in upserts:
            target = self.file_path(doc.name)
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp")
            tmp.write_bytes(doc.content)
            os.replace(tmp, target)


def list_knowledge_bases(data_dir: Path) -> list[str]:
    """Names of the knowledge bases under ``data_dir``."""
    if not data_dir.is_dir():
        return []
    return sorted(p.name for p in data_dir.iterdir() if (p / DB_NAME).is_file() and not p.name.startswith("."))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
