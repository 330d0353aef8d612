"""What a rebuild starts from: every document's stored original, or its stored chunks if that is lost.

A knowledge base this version can open lists its documents and finds each original by hash. One
written by an older version (another index format) is read with plain SQL for its document names
and chunk texts, and its originals are found under ``files/<document name>`` as those versions
stored them; a file there that its database does not list is taken too.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from ingest.errors import IndexMismatch, KnowledgeBaseError
from ingest.settings import IngestSettings
from ingest.stores import KnowledgeStore, open_store
from ingest.stores.originals import FILES_DIR
from ingest.stores.sqlite import DB_NAME
from ingest.types import ChunkText

_SHA = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class StoredOriginal:
    """One document to rebuild: its original's bytes (None when missing) and its stored chunks."""

    name: str
    kind: str
    sha256: str
    content: bytes | None
    chunks: tuple[ChunkText, ...] = ()


def stored_originals(settings: IngestSettings, kb_name: str) -> list[StoredOriginal]:
    """Every document of ``kb_name`` with what it can be rebuilt from, by name."""
    folder = settings.kb_dir(kb_name)
    try:
        store = open_store(settings, kb_name)
    except IndexMismatch:
        if settings.store != "embedded":  # no older Milvus layout exists yet: nothing to read it with
            raise
        return _legacy_originals(folder)
    try:
        found = []
        for doc in store.documents():
            content = _original(store, doc.name)
            chunks = () if content is not None else tuple(_as_text(c) for c in store.chunks_of(doc.name))
            found.append(StoredOriginal(doc.name, doc.kind, doc.sha256, content, chunks))
        return found
    finally:
        store.close()


def _original(store: KnowledgeStore, name: str) -> bytes | None:
    try:
        return store.original(name)
    except KnowledgeBaseError:  # missing: the document is rebuilt from its stored chunks
        return None


def _as_text(chunk) -> ChunkText:  # type: ignore[no-untyped-def]
    return ChunkText(chunk.text, chunk.page, chunk.heading, chunk.lines, chunk.kind, chunk.ocr)


def _legacy_originals(folder: Path) -> list[StoredOriginal]:
    files = folder / FILES_DIR
    by_name: dict[str, StoredOriginal] = {}
    for name, kind, sha, chunks in _legacy_documents(folder / DB_NAME):
        by_hash, by_name_path = files / sha, files / name  # this version's layout, then the older one
        path = by_hash if _SHA.fullmatch(sha) and by_hash.is_file() else by_name_path
        content = path.read_bytes() if path.is_file() else None
        by_name[name] = StoredOriginal(name, kind, sha, content, chunks)
    if files.is_dir():
        for path in sorted(files.rglob("*")):
            name = path.relative_to(files).as_posix()
            if path.is_file() and not path.name.startswith(".") and name not in by_name and not _SHA.fullmatch(name):
                content = path.read_bytes()
                by_name[name] = StoredOriginal(name, path.suffix.lstrip(".").lower(), "", content)
    return [by_name[name] for name in sorted(by_name)]


def _legacy_documents(db_path: Path) -> list[tuple[str, str, str, tuple[ChunkText, ...]]]:
    """(name, kind, sha256, chunks) from an older version's database; nothing if it cannot be read."""
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    except sqlite3.Error:
        return []
    try:
        live = "WHERE live = 1" if "live" in {row[1] for row in db.execute("PRAGMA table_info(documents)")} else ""
        docs = db.execute(f"SELECT id, name, kind, sha256 FROM documents {live} ORDER BY name").fetchall()
        out = []
        columns = {row[1] for row in db.execute("PRAGMA table_info(chunks)")}
        chunks = (
            "SELECT text, page, heading FROM chunks WHERE doc_id = ? ORDER BY ordinal"
            if "text" in columns
            else "SELECT p.text, c.page, c.heading FROM chunks c JOIN passages p ON p.id = c.passage_id "
            "WHERE c.doc_id = ? ORDER BY c.ordinal"
        )
        for doc_id, name, kind, sha in docs:
            rows = db.execute(chunks, (doc_id,)).fetchall()
            out.append((name, kind, sha, tuple(ChunkText(t, p, h) for t, p, h in rows)))
        return out
    except sqlite3.Error:
        return []
    finally:
        db.close()
