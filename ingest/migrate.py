"""Copy a knowledge base to the other store backend: documents, chunks, passages, vectors, originals.

    python -m ingest migrate --kb NAME --to milvus      (or --to embedded)

Nothing is embedded again: each chunk takes its window vectors from the source. The source is
only read (under the knowledge base's write lock, so nobody changes it meanwhile). The copy is
filled like a rebuild, beside and out of sight (stores.replace_store), and appears whole at the
end, or not at all when the copy fails. A knowledge base of that name already in the target is
refused. Documents go over in batches of about BATCH_CHUNKS chunks, one store write each.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ingest import stores
from ingest.errors import KnowledgeBaseError
from ingest.locks import write_lock
from ingest.progress import Progress, no_progress
from ingest.settings import IngestSettings, StoreBackend
from ingest.stores import KnowledgeStore, PreparedDocument, text_sha, vector_key
from ingest.types import ChunkText

BATCH_CHUNKS = 5_000


@dataclass
class MigrationReport:
    """What a migration copied."""

    documents: int = 0
    chunks: int = 0
    missing_originals: list[str] = field(default_factory=list)  # copied from their chunks alone
    seconds: float = 0.0


def migrate(
    settings: IngestSettings, kb_name: str, to: StoreBackend, progress: Progress = no_progress
) -> MigrationReport:
    """Copy ``kb_name`` from the other backend into ``to`` (both as ``settings`` configure them)."""
    started = time.perf_counter()
    source_backend: StoreBackend = "embedded" if to == "milvus" else "milvus"
    source_settings = settings.model_copy(update={"store": source_backend})
    target_settings = settings.model_copy(update={"store": to})

    def waiting(who: str, seconds: float) -> None:
        progress("wait", int(seconds), int(settings.lock_timeout_s), f"waiting for {who} to finish")

    purpose = f"the migration of '{kb_name}' to {to}"
    with write_lock(settings.kb_dir(kb_name), settings.lock_timeout_s, purpose, waiting):
        if stores.store_exists(target_settings, kb_name):
            raise KnowledgeBaseError(
                f"knowledge base '{kb_name}' already exists in the {to} store: delete it there first"
            )
        source = stores.open_store(source_settings, kb_name)
        try:
            report = stores.replace_store(
                target_settings,
                kb_name,
                source.embedder_name,
                source.dim,
                lambda t: _copy(source, t, progress),
                source.window_chars,
            )
        finally:
            source.close()
    report.seconds = time.perf_counter() - started
    return report


def _copy(source: KnowledgeStore, target: KnowledgeStore, progress: Progress) -> MigrationReport:
    report = MigrationReport()
    documents = source.documents()
    batch: list[PreparedDocument] = []
    batch_chunks = 0
    progress("copy", 0, len(documents))
    for done, info in enumerate(documents, start=1):
        chunks = source.chunks_of(info.name)
        # a store written before code had an embedding context keys its code vectors by text alone
        keys = [(vector_key(info.name, c), text_sha(c.text)) for c in chunks]
        known = source.known_vectors(key for pair in keys for key in pair)
        found = [known.get(key, known.get(by_text)) for key, by_text in keys]
        missing = [c.ordinal for c, vector in zip(chunks, found, strict=True) if vector is None]
        if missing:
            raise KnowledgeBaseError(f"{info.name}: the window vectors of chunks {missing[:5]} are missing")
        try:
            content: bytes | None = source.original(info.name)
        except KnowledgeBaseError:
            content = None
            report.missing_originals.append(info.name)
        batch.append(
            PreparedDocument(
                info.name,
                info.kind,
                info.size_bytes,
                info.sha256,
                [ChunkText(c.text, c.page, c.heading, c.lines, c.kind, c.ocr) for c in chunks],
                [vector for vector in found if vector is not None],
                content,
                info.added_at,
            )
        )
        report.documents += 1
        report.chunks += len(chunks)
        batch_chunks += len(chunks)
        if batch_chunks >= BATCH_CHUNKS or done == len(documents):
            target.apply(batch, [], progress)
            batch, batch_chunks = [], 0
        progress("copy", done, len(documents))
    return report
