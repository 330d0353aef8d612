"""The Milvus store: a knowledge base in four Milvus collections (milvus_schema.py), read by generation.

Every read starts from the catalog row (milvus_catalog.py): its generation G says which rows are
part of the knowledge base, its key which collections hold them. A write makes all its rows
first, invisible to G, then commits G+1 in one row write, then deletes what G+1 no longer holds
(milvus_write.py). A read that overlapped such a commit (the generation changed while it ran) is
done again, so it never sees half of a change. The originals are files on disk (originals.py),
not in Milvus: Milvus keeps loaded collections in memory, a VARCHAR holds 64 KB, a file 200 MB.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TypeVar

import numpy as np

from ingest.errors import KnowledgeBaseError, KnowledgeBaseNotFound, KnowledgeBaseReadOnly
from ingest.stores import milvus_catalog as catalog
from ingest.stores import milvus_read as read
from ingest.stores.base import KnowledgeStore, PreparedDocument, Scored, WriteProgress, embedder_mismatch, no_progress
from ingest.stores.milvus_catalog import Record
from ingest.stores.milvus_connect import Milvus, disconnect
from ingest.stores.milvus_read import LiveDocument
from ingest.stores.milvus_schema import Collections, keyword_query, load_collections
from ingest.stores.originals import Originals
from ingest.types import DocumentInfo, StoredChunk

READ_ATTEMPTS = 3  # a read that overlapped a commit is done again, at most this often
T = TypeVar("T")


class MilvusStore(KnowledgeStore):
    """One knowledge base in Milvus. Readers may share it between threads."""

    def __init__(
        self, milvus: Milvus, name: str, record: Record, originals: Originals, writable: bool, catalog_name: str = ""
    ) -> None:
        self.name = name
        self.read_only = not writable
        self._milvus = milvus
        self._catalog_name = catalog_name or name  # a rebuild writes under a staging row
        self._record = record
        self._originals = originals
        self._guard = threading.RLock()
        self._live: tuple[str, int, dict[int, LiveDocument]] = ("", -1, {})
        self.embedder_name, self.dim, self.window_chars = record.embedder, record.dim, record.window_chars
        self.prune_originals = True  # a rebuild's staging store leaves them to the swap
        load_collections(milvus, self.collections)

    @property
    def collections(self) -> Collections:
        return Collections(self._record.key)

    def check_embedder(self, embedder_name: str | None) -> None:
        """IndexMismatch (the embedded store's wording) unless built with ``embedder_name`` (None: any)."""
        if embedder_name is not None and embedder_name != self.embedder_name:
            raise embedder_mismatch(self.name, self.embedder_name, self.dim, embedder_name)

    def close(self) -> None:
        with self._guard:
            if self._milvus is not None:
                disconnect(self._milvus.target)
                self._milvus = None  # type: ignore[assignment]

    # --- reading ---

    @property
    def generation(self) -> int:
        return self._current().generation

    def documents(self) -> list[DocumentInfo]:
        infos = self._read(lambda record: [d.info() for d in self._documents(record).values()])
        return sorted(infos, key=lambda info: info.name)

    def document_hashes(self) -> dict[str, str]:
        return self._read(lambda record: {d.name: d.sha256 for d in self._documents(record).values()})

    def is_empty(self) -> bool:
        return self.chunk_count() == 0

    def chunk_count(self) -> int:
        return self._read(lambda record: sum(d.chunks for d in self._documents(record).values()))

    def chunks_of(self, doc_name: str) -> list[StoredChunk]:
        return self._read(lambda record: self._chunks_where(record, doc_name, ""))

    def chunk_at(self, doc_name: str, ordinal: int) -> StoredChunk | None:
        found = self._read(lambda record: self._chunks_where(record, doc_name, f"ordinal == {int(ordinal)}"))
        return found[0] if found else None

    def passages(self, ids: Iterable[int]) -> dict[int, StoredChunk]:
        wanted = [int(i) for i in dict.fromkeys(ids)]
        if not wanted:
            return {}
        return self._read(lambda r: read.first_chunks(self._milvus, self.collections, wanted, self._documents(r)))

    def known_vectors(self, shas: Iterable[str]) -> dict[str, np.ndarray]:
        names = self.collections
        passages = self._milvus.rows_in(names.passages, "text_sha", shas, ["id", "text_sha", "windows"])
        found = read.window_matrices(self._milvus, names, {int(p["id"]): int(p["windows"]) for p in passages})
        return {p["text_sha"]: found[int(p["id"])] for p in passages if int(p["id"]) in found}

    def keyword_search(self, query: str, k: int) -> Scored:
        """BM25 over the passages' keywords (milvus_read.keyword_hits). Unlike the embedded store,
        common terms are not left out: Milvus's sparse index prunes them itself (MaxScore)."""
        text = keyword_query(query, self._record.keywords)
        if k <= 0 or not text.strip():
            return []
        return self._read(lambda r: read.keyword_hits(self._milvus, self.collections, text, k, r.generation))

    def dense_search(self, query_vector: np.ndarray, k: int, mean_weight: float = 0.0) -> Scored:
        if k <= 0:
            return []
        query = np.asarray(query_vector, np.float32)
        return self._read(
            lambda r: read.dense_hits(self._milvus, self.collections, query, k, mean_weight, r.generation)
        )

    def dense_scores(self, query_vector: np.ndarray, ids: Iterable[int], mean_weight: float = 0.0) -> dict[int, float]:
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        query = np.asarray(query_vector, np.float32)
        return self._read(lambda _: read.dense_scores(self._milvus, self.collections, query, wanted, mean_weight))

    def original(self, doc_name: str) -> bytes:
        doc = self._read(lambda record: self._by_name(record).get(doc_name))
        if doc is None:
            raise KnowledgeBaseError(f"no document '{doc_name}' in knowledge base '{self.name}'")
        content = self._originals.read(doc.sha256)
        if content is None:
            raise KnowledgeBaseError(f"the stored original of '{doc_name}' is missing from {self._originals.folder}")
        return content

    def stats(self) -> dict[str, int | str]:
        def collect(record: Record) -> dict[str, int | str]:
            docs = self._documents(record).values()
            files = self._originals.folder
            return {
                "name": self.name,
                "documents": len(docs),
                "chunks": sum(d.chunks for d in docs),
                "passages": record.passages,
                "windows": record.windows,
                "characters": record.characters,
                "embedder": self.embedder_name,
                "dim": self.dim,
                **({"window_chars": self.window_chars} if self.window_chars else {}),
                "generation": record.generation,
                "disk_bytes": sum(p.stat().st_size for p in files.iterdir() if p.is_file()) if files.is_dir() else 0,
                "store": "milvus",
                "milvus": self._milvus.target.describe(),
            }

        return self._read(collect)

    # --- writing (hold write_lock) ---

    def apply(
        self, upserts: Iterable[PreparedDocument], removals: Iterable[str] = (), progress: WriteProgress = no_progress
    ) -> None:
        """Add or replace documents and remove others: new rows, then one catalog write, then cleanup."""
        from ingest.stores import milvus_write

        self._require_writable()
        upserts, removals = list(upserts), list(removals)
        with self._guard:
            record = self._current()
            if milvus_write.recover(self._milvus, self.collections, record):
                self._live = ("", -1, {})
            for doc in upserts:  # durable before the commit that refers to them
                if doc.content is not None:
                    self._originals.put(doc.sha256, doc.content)
            live = self._documents(record)
            self._record = milvus_write.apply(
                self._milvus, self._catalog_name, record, live, upserts, removals, progress
            )
            if self.prune_originals:
                self.keep_originals()

    def verify_index(self) -> bool:
        """Finish or undo what an interrupted write left (its rows, its cleanup) and load any collection
        Milvus released; True when something had to be done. Milvus builds its own indexes: there is no
        index file to check, as the embedded store's FAISS file."""
        from ingest.stores import milvus_write

        self._require_writable()
        with self._guard:
            record = self._current()
            repaired = milvus_write.recover(self._milvus, self.collections, record)
            return load_collections(self._milvus, self.collections) or repaired

    def keep_originals(self) -> None:
        """Delete the stored originals no live document refers to."""
        self._originals.keep_only(d.sha256 for d in self._read(self._documents).values())

    # --- internals ---

    def _require_writable(self) -> None:
        if self.read_only:
            raise KnowledgeBaseReadOnly(
                f"knowledge base '{self.name}' is open read-only here: it can be searched, but not changed"
            )

    def _current(self) -> Record:
        """The committed record; follows a rebuild by another process (same embedder), else says so."""
        record = catalog.read(self._milvus, self._catalog_name)
        if record is None:
            raise KnowledgeBaseNotFound(
                f"knowledge base '{self.name}' does not exist any more in {self._milvus.target.describe()}"
            )
        if record.key != self._record.key:
            if (record.embedder, record.dim) != (self.embedder_name, self.dim):
                raise embedder_mismatch(self.name, record.embedder, record.dim, self.embedder_name)
            load_collections(self._milvus, Collections(record.key))
        self._record = record
        return record

    def _read(self, work: Callable[[Record], T]) -> T:
        """``work`` at the committed generation; done again if a commit happened while it ran."""
        for _ in range(READ_ATTEMPTS):
            record = self._current()
            result = work(record)
            after = self._current()
            if (after.key, after.generation) == (record.key, record.generation):
                break
        return result

    def _documents(self, record: Record) -> dict[int, LiveDocument]:
        """The live documents of ``record``'s generation by id (read once per generation)."""
        with self._guard:
            key, generation, documents = self._live
            if (key, generation) == (record.key, record.generation):
                return documents
        documents = read.live_documents(self._milvus, self.collections, record.generation)
        with self._guard:
            self._live = (record.key, record.generation, documents)
        return documents

    def _by_name(self, record: Record) -> dict[str, LiveDocument]:
        return {d.name: d for d in self._documents(record).values()}

    def _chunks_where(self, record: Record, doc_name: str, also: str) -> list[StoredChunk]:
        doc = self._by_name(record).get(doc_name)
        return read.chunks_of(self._milvus, self.collections, doc, also) if doc else []
