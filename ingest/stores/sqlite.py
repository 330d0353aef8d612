"""The embedded store's SQLite database: its schema, and opening it for reading or for writing.

Readers open the database read-only (``mode=ro``), so a knowledge base on a read-only disk, or
copied without write permission, can still be searched; when SQLite cannot even create its
shared-memory file there (a read-only folder), the file is opened as immutable: nothing can
change it from that folder anyway.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

from ingest.errors import IndexMismatch, KnowledgeBaseNotFound, KnowledgeBaseReadOnly

SCHEMA_VERSION = 3  # 3: passages (distinct chunk texts) apart from chunks; line ranges, kinds; originals by hash
DB_NAME = "kb.sqlite"

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE documents (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL,
    size_bytes INTEGER NOT NULL, sha256 TEXT NOT NULL, added_at TEXT NOT NULL,
    live INTEGER NOT NULL DEFAULT 0  -- 0 while its chunks are written in batches, 1 once it is whole
);
CREATE UNIQUE INDEX documents_by_name ON documents(name) WHERE live = 1;
CREATE TABLE passages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: a removed passage's windows may linger as tombstones
    sha TEXT NOT NULL UNIQUE,  -- of document, heading and text: what makes two chunks one passage
    text_sha TEXT NOT NULL,  -- base.vector_key: whose window vectors can be reused
    text TEXT NOT NULL, vectors BLOB NOT NULL
);
CREATE INDEX passages_by_text ON passages(text_sha);
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY,
    doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    passage_id INTEGER NOT NULL REFERENCES passages(id),
    page INTEGER, heading TEXT, line_start INTEGER, line_end INTEGER,
    kind TEXT NOT NULL, ocr INTEGER NOT NULL
);
CREATE INDEX chunks_by_doc ON chunks(doc_id, ordinal);
CREATE INDEX chunks_by_passage ON chunks(passage_id, id);
-- identifiers stay whole: load_model_on_gpus, os.kill (ingest/keywords.py makes the terms)
CREATE VIRTUAL TABLE passages_fts USING fts5(terms, tokenize = "unicode61 remove_diacritics 2 tokenchars '_.:-$'");
"""


def create_database(path: Path, meta: dict[str, str]) -> None:
    """Write a new, empty database at ``path`` with ``meta``."""
    db = sqlite3.connect(path)
    try:
        with db:
            db.execute("PRAGMA journal_mode = WAL")
            db.executescript(SCHEMA)
            db.executemany("INSERT INTO meta VALUES (?, ?)", [("schema_version", str(SCHEMA_VERSION)), *meta.items()])
    finally:
        db.close()


def is_writable(folder: Path) -> bool:
    """Whether this process may change files in ``folder`` (and its database)."""
    db = folder / DB_NAME
    return os.access(folder, os.W_OK | os.X_OK) and os.access(db, os.W_OK)


def connect(folder: Path, writable: bool) -> tuple[sqlite3.Connection, dict[str, str]]:
    """An open connection (autocommit: callers BEGIN their own transactions) and the meta table.

    Raises KnowledgeBaseNotFound when there is no database, IndexMismatch when it is not one this
    version can read (naming the rebuild command).
    """
    path = folder / DB_NAME
    if not path.is_file():
        raise KnowledgeBaseNotFound(f"knowledge base '{folder.name}' does not exist (no index in {folder})")
    try:
        db = _open(path, writable)
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.DatabaseError as error:
        raise IndexMismatch(
            f"knowledge base '{folder.name}' has an unreadable index ({error}); "
            f"rebuild it: python -m ingest rebuild --kb {folder.name}"
        ) from error
    if meta.get("schema_version") != str(SCHEMA_VERSION):
        db.close()
        raise IndexMismatch(
            f"knowledge base '{folder.name}' was written by another version of this program (index "
            f"format {meta.get('schema_version', 'unknown')}, this version reads {SCHEMA_VERSION}); "
            f"rebuild it: python -m ingest rebuild --kb {folder.name}"
        )
    return db, meta


def _open(path: Path, writable: bool) -> sqlite3.Connection:
    if writable:
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA busy_timeout = 30000")
        return db
    uri = f"file:{quote(str(path))}?mode=ro"
    try:
        db = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
        db.execute("SELECT 1 FROM meta LIMIT 1")
    except sqlite3.OperationalError:
        if os.access(path.parent, os.W_OK):
            raise
        # A read-only folder without the WAL's shared-memory file: nobody can write here.
        db = sqlite3.connect(f"{uri}&immutable=1", uri=True, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA busy_timeout = 30000")
    return db


def read_only_error(folder: Path) -> KnowledgeBaseReadOnly:
    """The error for a change asked of a knowledge base this process cannot write."""
    return KnowledgeBaseReadOnly(
        f"knowledge base '{folder.name}' is read-only ({folder} cannot be written by this user): it can be "
        "searched, but not changed; copy it somewhere writable or fix the folder's permissions"
    )
