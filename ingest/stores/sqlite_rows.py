"""The embedded store's row writes in SQLite (embedded.py orders the transactions and keeps FAISS in step).

Documents are staged not yet live, BATCH_CHUNKS chunks per transaction; chunks with the same
passage key share one passage row (text, window vectors, FTS terms); deleting documents deletes the
passages no other document uses.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import numpy as np

from ingest.keywords import fts_document
from ingest.stores.base import PreparedDocument, WriteProgress, check_shapes, keyword_text, passage_key, vector_key
from ingest.stores.index_cache import Stamp
from ingest.types import ChunkText
from ingest.windows import window_ids

BATCH_CHUNKS = 5_000  # chunks written per transaction while a large document is staged
Staged = list[tuple[int, str]]  # (document id, name) written, not yet live
Created = list[tuple[int, np.ndarray]]  # (passage id, window vectors) this write created


def rollback(db: sqlite3.Connection) -> None:
    """Roll back the open transaction, if any."""
    if db.in_transaction:
        db.execute("ROLLBACK")


def checkpoint(db: sqlite3.Connection, mode: str) -> None:
    """Checkpoint the WAL (PASSIVE between batches, TRUNCATE after a write)."""
    db.execute(f"PRAGMA wal_checkpoint({mode})").fetchall()


def discard_unfinished(db: sqlite3.Connection, dim: int) -> None:
    """Delete documents a crashed or failed write left half-written, and passages only they used."""
    staged = [doc_id for (doc_id,) in db.execute("SELECT id FROM documents WHERE live = 0")]
    if not staged:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        delete_documents(db, staged, dim, in_index=False)
        db.execute("COMMIT")
    except BaseException:
        rollback(db)
        raise


def stage(
    db: sqlite3.Connection, docs: list[PreparedDocument], dim: int, progress: WriteProgress
) -> tuple[Staged, Created]:
    """Write ``docs`` as not-yet-live documents, BATCH_CHUNKS chunks per transaction.

    Returns the staged (document id, name) pairs and the passages this write created, with
    their window vectors (for the FAISS index).
    """
    total = sum(len(d.chunks) for d in docs)
    staged: Staged = []
    created: Created = []
    known: dict[str, int] = {}  # passage key -> id, for this write
    written = 0
    progress("write", 0, total)
    db.execute("BEGIN IMMEDIATE")
    try:
        for doc in docs:
            check_shapes(doc, dim)
            doc_id = db.execute(
                "INSERT INTO documents (name, kind, size_bytes, sha256, added_at, live) VALUES (?, ?, ?, ?, ?, 0)",
                (doc.name, doc.kind, doc.size_bytes, doc.sha256, doc.added_at or now()),
            ).lastrowid
            staged.append((int(doc_id), doc.name))
            for ordinal, (chunk, matrix) in enumerate(zip(doc.chunks, doc.vectors, strict=True)):
                passage_id = _passage_id(db, doc.name, chunk, matrix, known, created)
                lines = chunk.lines or (None, None)
                db.execute(
                    "INSERT INTO chunks (doc_id, ordinal, passage_id, page, heading, line_start, line_end, "
                    "kind, ocr) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (doc_id, ordinal, passage_id, chunk.page, chunk.heading, *lines, chunk.kind, int(chunk.ocr)),
                )
                written += 1
                if written % BATCH_CHUNKS == 0:
                    db.execute("COMMIT")
                    checkpoint(db, "PASSIVE")
                    progress("write", written, total)
                    db.execute("BEGIN IMMEDIATE")
        db.execute("COMMIT")
    except BaseException:
        rollback(db)
        raise
    progress("write", total, total)
    return staged, created


def _passage_id(
    db: sqlite3.Connection,
    doc_name: str,
    chunk: ChunkText,
    matrix: np.ndarray,
    known: dict[str, int],
    created: Created,
) -> int:
    key = passage_key(doc_name, chunk)
    if key in known:
        return known[key]
    row = db.execute("SELECT id FROM passages WHERE sha = ?", (key,)).fetchone()
    if row is None:
        vectors = np.ascontiguousarray(matrix, np.float32)
        passage_id = int(
            db.execute(
                "INSERT INTO passages (sha, text_sha, text, vectors) VALUES (?, ?, ?, ?)",
                (key, vector_key(doc_name, chunk), chunk.text, vectors.tobytes()),
            ).lastrowid
        )
        db.execute(
            "INSERT INTO passages_fts (rowid, terms) VALUES (?, ?)",
            (passage_id, fts_document(keyword_text(doc_name, chunk))),
        )
        created.append((passage_id, vectors))
    else:
        passage_id = int(row[0])
    known[key] = passage_id
    return passage_id


def delete_documents(db: sqlite3.Connection, doc_ids: list[int], dim: int, in_index: bool = True) -> list[int]:
    """Delete documents and the passages no other document uses; returns those passages' window
    ids that are in the FAISS index (``in_index``: the documents were live)."""
    if not doc_ids:
        return []
    marks = ",".join("?" * len(doc_ids))
    candidates = [
        pid for (pid,) in db.execute(f"SELECT DISTINCT passage_id FROM chunks WHERE doc_id IN ({marks})", doc_ids)
    ]
    db.execute(f"DELETE FROM documents WHERE id IN ({marks})", doc_ids)
    gone: list[int] = []
    for start in range(0, len(candidates), 500):
        part = candidates[start : start + 500]
        rows = db.execute(
            f"SELECT id, LENGTH(vectors) FROM passages WHERE id IN ({','.join('?' * len(part))}) "
            "AND NOT EXISTS (SELECT 1 FROM chunks WHERE passage_id = passages.id)",
            part,
        ).fetchall()
        dead = [pid for pid, _ in rows]
        db.executemany("DELETE FROM passages_fts WHERE rowid = ?", [(pid,) for pid in dead])
        db.executemany("DELETE FROM passages WHERE id = ?", [(pid,) for pid in dead])
        if in_index:
            gone += [int(w) for pid, size in rows for w in window_ids(pid, size // (4 * dim))]
    return gone


def write_stamp(db: sqlite3.Connection, stamp: Stamp) -> None:
    """Record the FAISS file's checksum and window count (read back to trust the file)."""
    db.executemany(
        "INSERT OR REPLACE INTO meta VALUES (?, ?)",
        [("index_checksum", stamp.checksum), ("index_windows", str(stamp.windows))],
    )


def now() -> str:
    """The current time, ISO 8601 UTC, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")
