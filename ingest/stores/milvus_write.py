"""Writing a Milvus knowledge base without transactions: new rows, one switch, then cleanup.

A write that moves the knowledge base from generation G to G+1 goes in four steps:

1. stage: the new documents' rows (documents, chunks, passages, windows) are inserted with
   born = G+1, BATCH_CHUNKS chunks at a time; readers of G filter them out;
2. retire: the documents it replaces or removes get died = G+1 (still live for readers of G);
3. switch: the catalog row is written with generation G+1 (one row: atomic). From here on
   readers see the new documents and no longer the retired ones;
4. cleanup: the retired documents, their chunks and the passages no live chunk holds any more
   (with their windows) are deleted.

Progress: ("write", done, total) while staging, ("index", 0, n) before the switch and
("index", n, n) right after it (n: new window vectors), then the cleanup.

A crash before step 3 leaves G whole; the next write (``recover``) deletes the rows born after G
and gives the documents marked in step 2 back their life. A crash after it leaves G+1 whole;
the next write finishes step 4. Milvus Lite searches rows that are not flushed by brute force in
Python (3 s for 30,000 windows, bench/report.md), so on Lite every step ends with a flush; a
server flushes by itself, and an explicit flush there is costly and rate-limited.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime

import numpy as np

from ingest.errors import KnowledgeBaseError
from ingest.stores import milvus_catalog as catalog
from ingest.stores.base import PreparedDocument, WriteProgress, check_shapes, keyword_text, passage_key, vector_key
from ingest.stores.milvus_catalog import Record
from ingest.stores.milvus_connect import Milvus
from ingest.stores.milvus_read import DOC_FIELDS, LiveDocument
from ingest.stores.milvus_schema import LIVE, MAX_VARCHAR, SLOT, Collections, keyword_document
from ingest.types import ChunkText
from ingest.windows import mean_direction, window_ids

BATCH_CHUNKS = 5_000  # chunks staged per round of inserts (as the embedded store's transactions)


def apply(
    milvus: Milvus,
    catalog_name: str,
    record: Record,
    live: dict[int, LiveDocument],
    upserts: list[PreparedDocument],
    removals: list[str],
    progress: WriteProgress,
) -> Record:
    """Write ``upserts`` and remove ``removals`` (by name) as generation G+1; returns its record.
    ``record`` must be the committed one with nothing left to ``recover``, ``live`` its documents."""
    names = Collections(record.key)
    born = record.generation + 1
    total = sum(len(doc.chunks) for doc in upserts)
    staged = _Staging(milvus, names, record, born, lambda done: progress("write", done, total))
    progress("write", 0, total)
    staged.find_existing([passage_key(doc.name, c) for doc in upserts for c in doc.chunks])
    for doc in upserts:
        staged.add(doc)
    staged.insert()
    progress("write", total, total)

    replaced = set(removals) | {doc.name for doc in upserts}
    retired = [doc for doc in live.values() if doc.name in replaced]
    if retired:
        milvus.call("upsert", names.documents, [_document_row(d, died=born) for d in retired])
        _flush_if_lite(milvus, (names.documents,))
    kept = {doc_id for doc_id in live if live[doc_id].name not in replaced} | staged.document_ids
    orphans = _orphans(milvus, names, {d.id for d in retired}, kept, staged.passages_used)
    gone = milvus.rows_in(names.passages, "id", orphans, ["id", "chars", "windows"])

    progress("index", 0, staged.created_windows)
    committed = record.committed(
        next_document=staged.next_document,
        next_chunk=staged.next_chunk,
        next_passage=staged.next_passage,
        passages=record.passages + staged.created_passages - len(gone),
        windows=record.windows + staged.created_windows - sum(int(p["windows"]) for p in gone),
        characters=record.characters + staged.created_characters - sum(int(p["chars"]) for p in gone),
    )
    catalog.write(milvus, catalog_name, committed)  # the switch
    _flush_if_lite(milvus, (catalog.CATALOG,))
    progress("index", staged.created_windows, staged.created_windows)
    _cleanup(milvus, names, [d.id for d in retired], orphans)
    return committed


def recover(milvus: Milvus, names: Collections, record: Record) -> bool:
    """Undo a write that did not reach its switch and finish the cleanup of one that did; True when
    there was anything to do."""
    g = record.generation
    changed = False
    for collection in names.all():
        if _count(milvus, collection, f"born > {g}"):
            milvus.call("delete", collection, filter=f"born > {g}")
            changed = True
    marked = milvus.rows(names.documents, f"died > {g} and died < {LIVE}", DOC_FIELDS)
    if marked:
        milvus.call("upsert", names.documents, [_document_row(LiveDocument(**r), died=LIVE) for r in marked])
        changed = True
    dead = [int(r["id"]) for r in milvus.rows(names.documents, f"died <= {g}", ["id"])]
    if dead:
        live = {int(r["id"]) for r in milvus.rows(names.documents, f"born <= {g} and died > {g}", ["id"])}
        _cleanup(milvus, names, dead, _orphans(milvus, names, set(dead), live, set()))
        changed = True
    if changed:
        _flush_if_lite(milvus, names.all())
    return changed


class _Staging:
    """The rows of one write, inserted in rounds, with the ids and totals it allocates."""

    def __init__(
        self, milvus: Milvus, names: Collections, record: Record, born: int, on_batch: Callable[[int], None]
    ) -> None:
        self.milvus, self.names, self.record, self.born, self.on_batch = milvus, names, record, born, on_batch
        self.next_document, self.next_chunk, self.next_passage = (
            record.next_document,
            record.next_chunk,
            record.next_passage,
        )
        self.passage_of: dict[str, int] = {}  # passage key -> id: existing ones and this write's
        self.rows: dict[str, list[dict]] = {name: [] for name in names.all()}
        self.document_ids: set[int] = set()
        self.passages_used: set[int] = set()
        self.pending_chunks = self.chunks_written = 0
        self.created_passages = self.created_windows = self.created_characters = 0

    def find_existing(self, keys: list[str]) -> None:
        for row in self.milvus.rows_in(self.names.passages, "sha", keys, ["id", "sha"]):
            self.passage_of[row["sha"]] = int(row["id"])

    def add(self, doc: PreparedDocument) -> None:
        check_shapes(doc, self.record.dim)
        doc_id = self.next_document
        self.next_document += 1
        self.document_ids.add(doc_id)
        added_at = doc.added_at or datetime.now(UTC).isoformat(timespec="seconds")
        self.rows[self.names.documents].append(
            {
                "id": doc_id,
                "name": doc.name,
                "kind": doc.kind,
                "size_bytes": doc.size_bytes,
                "sha256": doc.sha256,
                "added_at": added_at,
                "chunks": len(doc.chunks),
                "born": self.born,
                "died": LIVE,
                "slot": SLOT,
            }
        )
        for ordinal, (chunk, matrix) in enumerate(zip(doc.chunks, doc.vectors, strict=True)):
            key = passage_key(doc.name, chunk)
            if key not in self.passage_of:
                self.passage_of[key] = self._new_passage(doc.name, chunk, key, matrix)
            passage_id = self.passage_of[key]
            self.passages_used.add(passage_id)
            first, last = chunk.lines or (None, None)
            self.rows[self.names.chunks].append(
                {
                    "id": self.next_chunk,
                    "doc_id": doc_id,
                    "ordinal": ordinal,
                    "passage_id": passage_id,
                    "page": chunk.page,
                    "line_start": first,
                    "line_end": last,
                    "kind": chunk.kind,
                    "ocr": bool(chunk.ocr),
                    "born": self.born,
                    "slot": SLOT,
                }
            )
            self.next_chunk += 1
            self.pending_chunks += 1
            if self.pending_chunks >= BATCH_CHUNKS:
                self.insert()
                self.on_batch(self.chunks_written)

    def insert(self) -> None:
        """Insert the rows gathered so far (windows and passages before the chunks that name them)."""
        touched = []
        for collection in (self.names.windows, self.names.passages, self.names.chunks, self.names.documents):
            rows = self.rows[collection]
            for start in range(0, len(rows), 2_000):  # a gRPC message holds at most 64 MB
                self.milvus.call("insert", collection, rows[start : start + 2_000])
            if rows:
                touched.append(collection)
            rows.clear()
        self.chunks_written += self.pending_chunks
        self.pending_chunks = 0
        _flush_if_lite(self.milvus, touched)

    def _new_passage(self, doc_name: str, chunk: ChunkText, key: str, matrix: np.ndarray) -> int:
        passage_id = self.next_passage
        self.next_passage += 1
        heading, text = chunk.heading, chunk.text
        vectors = np.ascontiguousarray(matrix, np.float32)
        keywords = keyword_document(keyword_text(doc_name, chunk), self.record.keywords)
        for what, value in (("text", text), ("heading", heading or ""), ("keyword terms", keywords)):
            if len(value.encode()) > MAX_VARCHAR:
                raise KnowledgeBaseError(
                    f"{doc_name}: a chunk's {what} take {len(value.encode()):,} bytes, over Milvus's limit of "
                    f"{MAX_VARCHAR:,}; lower KBA_CHUNK_SIZE"
                )
        self.rows[self.names.passages].append(
            {
                "id": passage_id,
                "sha": key,
                "text_sha": vector_key(doc_name, chunk),
                "heading": heading,
                "text": text,
                "chars": len(text),
                "windows": len(vectors),
                "keywords": keywords,
                "mean": mean_direction(vectors).tolist(),
                "born": self.born,
            }
        )
        windows = self.rows[self.names.windows]
        for window_id, vector in zip(window_ids(passage_id, len(vectors)), vectors, strict=True):
            row = {"id": int(window_id), "passage_id": passage_id, "vector": vector.tolist(), "born": self.born}
            windows.append(row)
        self.created_passages += 1
        self.created_windows += len(vectors)
        self.created_characters += len(text)
        return passage_id


def _orphans(milvus: Milvus, names: Collections, retired: set[int], kept: set[int], used: set[int]) -> set[int]:
    """Passages of the ``retired`` documents that no chunk of a ``kept`` document holds, nor this write."""
    if not retired:
        return set()
    candidates = {int(r["passage_id"]) for r in milvus.rows_in(names.chunks, "doc_id", retired, ["passage_id"])}
    candidates -= used
    holders = milvus.rows_in(names.chunks, "passage_id", candidates, ["passage_id", "doc_id"])
    return candidates - {int(r["passage_id"]) for r in holders if int(r["doc_id"]) in kept}


def _cleanup(milvus: Milvus, names: Collections, retired: list[int], orphans: Iterable[int]) -> None:
    """Delete what the committed generation no longer holds: the orphaned passages first, the
    retired documents last (a crash in between leaves them to find the rest again)."""
    orphans = sorted(orphans)
    for start in range(0, len(orphans), 1_000):
        part = orphans[start : start + 1_000]
        milvus.call("delete", names.windows, filter=f"passage_id in {part}")
        milvus.call("delete", names.passages, filter=f"id in {part}")
    retired = sorted(retired)
    for start in range(0, len(retired), 1_000):
        part = retired[start : start + 1_000]
        milvus.call("delete", names.chunks, filter=f"doc_id in {part}")
        milvus.call("delete", names.documents, filter=f"id in {part}")
    if orphans or retired:
        _flush_if_lite(milvus, names.all())


def _document_row(doc: LiveDocument, died: int) -> dict:
    row = {field: getattr(doc, field) for field in LiveDocument.__dataclass_fields__}
    return {**row, "died": died, "slot": SLOT}


def _count(milvus: Milvus, collection: str, expr: str) -> int:
    return int(milvus.call("query", collection, filter=expr, output_fields=["count(*)"])[0]["count(*)"])


def _flush_if_lite(milvus: Milvus, collections: Iterable[str]) -> None:
    if milvus.target.lite:
        for collection in collections:
            milvus.call("flush", collection)
