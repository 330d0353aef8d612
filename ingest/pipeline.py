"""Files -> knowledge base, the one code path behind the CLI, the browser and the HTTP API.

Each operation holds the knowledge base's write lock, does the slow work (read, parse, split,
embed) without touching the index, then hands everything to the store, which makes it visible
all at once: an interrupted or failed run leaves the previous state whole. A file that cannot be
read is reported and skipped; the other files are still ingested. Unchanged files (same SHA-256)
are not parsed or embedded, and chunks whose text is already in the index reuse their vectors.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ingest import stores
from ingest.embeddings import Embedder, embedder_id, get_embedder
from ingest.errors import IndexMismatch, KnowledgeBaseError, KnowledgeBaseNotFound, NoText, UnsupportedFile
from ingest.loaders import is_supported, parse_document
from ingest.loaders.text import human_size, over_size_limit
from ingest.locks import write_lock
from ingest.names import safe_file_name
from ingest.progress import Progress
from ingest.progress import no_progress as _no_progress
from ingest.project import NO_TEXT, ProjectScan, Skipped, scan_project
from ingest.rebuild import StoredOriginal, stored_originals
from ingest.settings import IngestSettings
from ingest.splitter import split_sections
from ingest.stores import KnowledgeStore, PreparedDocument
from ingest.types import ChunkText, IncomingFile
from ingest.windows import window_texts


@dataclass
class IngestReport:
    """What an operation did, for the CLI summary and the browser's messages."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (file, note): ingested, but not all of it
    skipped: list[Skipped] = field(default_factory=list)  # left out of a source folder by rule (ingest.project)
    chunks_embedded: int = 0
    chunks_reused: int = 0
    seconds: float = 0.0


def open_kb(settings: IngestSettings, name: str) -> KnowledgeStore:
    """Open knowledge base ``name`` for reading, insisting it was built with the configured embedder."""
    return stores.open_store(settings, name, embedder_id(settings.embedder))


def create_kb(settings: IngestSettings, name: str) -> KnowledgeStore:
    """Create an empty knowledge base for the configured embedder."""
    embedder = get_embedder(settings.embedder)
    return stores.create_store(settings, name, embedder.name, embedder.dim, settings.window_chars)


def delete_kb(settings: IngestSettings, name: str) -> None:
    """Remove a knowledge base and its files."""
    if not stores.store_exists(settings, name):
        raise KnowledgeBaseNotFound(f"knowledge base '{name}' does not exist")
    with _lock(settings, name, f"the deletion of '{name}'", _no_progress):
        stores.delete_store(settings, name)


def add_files(
    settings: IngestSettings, kb_name: str, files: Sequence[IncomingFile], progress: Progress = _no_progress
) -> IngestReport:
    """Add or replace ``files`` in the knowledge base (created if missing)."""
    purpose = f"the upload of {_names(files)}"
    return _sync(settings, kb_name, files, remove_others=False, progress=progress, purpose=purpose)


def scan_folder(
    settings: IngestSettings,
    source: Path,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    progress: Progress = _no_progress,
) -> ProjectScan:
    """The files of ``source`` worth ingesting, walked like a project (ingest.project), and the rest with reasons."""
    return scan_project(
        source,
        is_supported=is_supported,
        include=include,
        exclude=exclude,
        max_file_bytes=int(settings.max_file_mb * 1024 * 1024),
        generated_limit_bytes=settings.generated_limit_kb * 1024,
        progress=lambda seen: progress("scan", seen, 0),
    )


def build_from_folder(
    settings: IngestSettings,
    kb_name: str,
    source: Path,
    progress: Progress = _no_progress,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> IngestReport:
    """Make the knowledge base hold exactly the files of the project in ``source`` (ignore rules,
    binaries, generated data and build folders left out, with reasons); unreadable ones are reported."""
    scan = scan_folder(settings, source, include, exclude, progress)
    purpose = f"a build from {source}"
    report = _sync(settings, kb_name, scan.files, remove_others=True, progress=progress, purpose=purpose)
    report.skipped = sorted(scan.skipped + report.skipped, key=lambda s: s.path)
    return report


def remove_documents(
    settings: IngestSettings, kb_name: str, names: Iterable[str], progress: Progress = _no_progress
) -> IngestReport:
    """Remove documents (by name, or by a path whose file name is the document name)."""
    started = time.perf_counter()
    names = list(names)
    report = IngestReport()
    with _lock(settings, kb_name, f"the removal of {_names(names)}", progress):
        kb = stores.open_store(settings, kb_name, embedder_id(settings.embedder), writable=True)
        try:
            known = kb.document_hashes()
            for name in names:
                match = name if name in known else _safe_or_none(name)
                if match in known:
                    report.removed.append(match)
                else:
                    report.failed.append((name, "no such document in the knowledge base"))
            if report.removed:
                kb.apply([], report.removed, progress)
        finally:
            kb.close()
    report.seconds = time.perf_counter() - started
    return report


def rebuild(settings: IngestSettings, kb_name: str, progress: Progress = _no_progress) -> IngestReport:
    """Re-parse every stored document with the current settings (e.g. a new embedder) and embed what they change.

    The new knowledge base is built beside the old one and swapped in when complete. A chunk
    whose text the old one holds takes its vectors from there when they were made by the same
    embedder with the same window size. A document whose stored original is missing is kept,
    rebuilt from its stored chunks, and reported as failed (so the command exits non-zero):
    nothing is dropped without a word.
    """
    with _lock(settings, kb_name, f"the rebuild of '{kb_name}'", progress):
        if not stores.store_exists(settings, kb_name):
            raise KnowledgeBaseNotFound(f"knowledge base '{kb_name}' does not exist")
        originals = stored_originals(settings, kb_name)
        embedder = get_embedder(settings.embedder)

        def fill(kb: KnowledgeStore) -> IngestReport:
            with _reusable_store(settings, kb_name, embedder.name) as previous:
                return _rebuild_into(kb, settings, originals, progress, previous)

        return stores.replace_store(settings, kb_name, embedder.name, embedder.dim, fill, settings.window_chars)


@contextlib.contextmanager
def _reusable_store(settings: IngestSettings, kb_name: str, embedder_name: str) -> Iterator[KnowledgeStore | None]:
    """The knowledge base as it is, open for reading, if its vectors are what ``settings`` would
    make now (same embedder, same recorded window size); else None."""
    try:
        store = stores.open_store(settings, kb_name, embedder_name)
    except KnowledgeBaseError:  # another embedder, or an index this version cannot read
        yield None
        return
    try:
        yield store if store.window_chars == settings.window_chars else None
    finally:
        store.close()


def upgrade_if_unreadable(
    settings: IngestSettings, kb_name: str, progress: Progress = _no_progress
) -> IngestReport | None:
    """Rebuild an existing knowledge base from its own stored files if this version cannot read its
    index (written by another version or another embedder, or damaged), and repair a FAISS file
    that does not match its database; None if it opens as it is.
    """
    try:
        kb = open_kb(settings, kb_name)
    except IndexMismatch:
        return rebuild(settings, kb_name, progress)
    kb.close()
    try:
        with _lock(settings, kb_name, f"a check of '{kb_name}'", progress):
            writer = stores.open_store(settings, kb_name, writable=True)
            try:
                writer.verify_index()
            finally:
                writer.close()
    except KnowledgeBaseError:  # read-only or busy: readers rebuild the index in memory instead
        pass
    return None


def ensure_default_kb(settings: IngestSettings, progress: Progress = _no_progress) -> IngestReport | None:
    """Build the shipped default knowledge base from data/sample on first run, or rebuild it when
    an older version wrote it; None if it is ready as it is."""
    if stores.store_exists(settings, settings.default_kb):
        return upgrade_if_unreadable(settings, settings.default_kb, progress)
    return build_from_folder(settings, settings.default_kb, settings.sample_docs_dir, progress)


@contextlib.contextmanager
def _lock(settings: IngestSettings, kb_name: str, purpose: str, progress: Progress) -> Iterator[None]:
    """Hold the write lock (reporting the wait) and finish whatever a killed writer left half done."""

    def waiting(who: str, seconds: float) -> None:
        progress("wait", int(seconds), int(settings.lock_timeout_s), f"waiting for {who} to finish")

    with write_lock(settings.kb_dir(kb_name), settings.lock_timeout_s, purpose, waiting):
        stores.recover_interrupted(settings, kb_name)
        yield


def _names(items: Sequence[IncomingFile] | Sequence[str]) -> str:
    names = [i.name if isinstance(i, IncomingFile) else i for i in items]
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "") if names else "nothing"


def _safe_or_none(name: str) -> str | None:
    try:
        return safe_file_name(name)
    except KnowledgeBaseError:
        return None


def _sync(
    settings: IngestSettings,
    kb_name: str,
    files: Sequence[IncomingFile],
    *,
    remove_others: bool,
    progress: Progress,
    purpose: str,
) -> IngestReport:
    with _lock(settings, kb_name, purpose, progress):
        if stores.store_exists(settings, kb_name):
            kb = stores.open_store(settings, kb_name, embedder_id(settings.embedder), writable=True)
        else:
            kb = create_kb(settings, kb_name)
        try:
            return _ingest_into(kb, settings, files, remove_others=remove_others, progress=progress)
        finally:
            kb.close()


def _ingest_into(
    kb: KnowledgeStore,
    settings: IngestSettings,
    files: Sequence[IncomingFile],
    *,
    remove_others: bool,
    progress: Progress,
) -> IngestReport:
    started = time.perf_counter()
    report = IngestReport()
    known = kb.document_hashes()
    pending: list[PreparedDocument] = []
    progress("parse", 0, len(files))
    for done, incoming in enumerate(files, start=1):
        try:
            content = _read(incoming, settings)
            doc = _prepare(incoming.name, content, known, settings, progress, report.warnings)
        except NoText as error:
            if remove_others:  # a folder build: an empty __init__.py or a logo is no failure
                report.skipped.append(Skipped(incoming.name, NO_TEXT, error.reason))
            else:
                report.failed.append((incoming.name, error.reason))
        except UnsupportedFile as error:
            report.failed.append((incoming.name, error.reason))
        else:
            if doc is None:
                report.unchanged.append(incoming.name)
            else:
                pending.append(doc)
                (report.updated if doc.name in known else report.added).append(doc.name)
        progress("parse", done, len(files))
    report.chunks_embedded, report.chunks_reused = _embed(kb, pending, settings, progress)
    if remove_others:
        present = {f.name for f in files}
        report.removed = sorted(name for name in known if name not in present)
    if pending or report.removed:
        kb.apply(pending, report.removed, progress)
    report.seconds = time.perf_counter() - started
    return report


def _rebuild_into(
    kb: KnowledgeStore,
    settings: IngestSettings,
    originals: list[StoredOriginal],
    progress: Progress,
    previous: KnowledgeStore | None,
) -> IngestReport:
    started = time.perf_counter()
    report = IngestReport()
    pending: list[PreparedDocument] = []
    for done, original in enumerate(originals, start=1):
        try:
            if original.content is None:
                doc = _from_stored_chunks(original)
                report.failed.append((original.name, "stored original is missing: kept as its stored chunks"))
            else:
                doc = _prepare(original.name, original.content, {}, settings, progress, report.warnings)
        except UnsupportedFile as error:
            report.failed.append((original.name, error.reason))
        else:
            if doc is not None:
                pending.append(doc)
                report.added.append(doc.name)
        progress("parse", done, len(originals))
    report.chunks_embedded, report.chunks_reused = _embed(kb, pending, settings, progress, previous)
    if pending:
        kb.apply(pending, [], progress)
    report.seconds = time.perf_counter() - started
    return report


def _from_stored_chunks(original: StoredOriginal) -> PreparedDocument:
    if not original.chunks:
        raise UnsupportedFile(original.name, "stored original is missing and it has no stored chunks")
    size = sum(len(c.text.encode()) for c in original.chunks)
    return PreparedDocument(original.name, original.kind, size, original.sha256, list(original.chunks), [], None)


def _read(incoming: IncomingFile, settings: IngestSettings) -> bytes:
    """The file's bytes, refused before reading when over the size limit; any OS error is this file's failure."""
    limit = int(settings.max_file_mb * 1024 * 1024)
    try:
        size = incoming.path.stat().st_size
        if size > limit:
            raise UnsupportedFile(incoming.name, over_size_limit(size, limit))
        with incoming.path.open("rb") as file:
            content = file.read(limit + 1)  # no more: it may have grown since stat()
    except FileNotFoundError:
        raise UnsupportedFile(incoming.name, "file disappeared before it could be read") from None
    except IsADirectoryError:
        raise UnsupportedFile(incoming.name, "is a folder, not a file") from None
    except OSError as error:  # a symlink loop, permissions, an I/O error
        raise UnsupportedFile(incoming.name, f"file could not be read ({error.strerror or error})") from None
    if len(content) > limit:
        raise UnsupportedFile(incoming.name, f"file grew past the {human_size(limit)} limit while read")
    return content


def _prepare(
    name: str,
    content: bytes,
    known: dict[str, str],
    settings: IngestSettings,
    progress: Progress = _no_progress,
    warnings: list[tuple[str, str]] | None = None,
) -> PreparedDocument | None:
    """Parse and split one file; None when the stored copy is identical. Pages OCR had to skip
    are added to ``warnings`` as (file, note); OCR reports its pages as progress stage 'ocr'."""
    sha = hashlib.sha256(content).hexdigest()
    if known.get(name) == sha:
        return None
    notes: list[str] = []
    sections = parse_document(
        Path(name).name,
        content,
        int(settings.max_file_mb * 1024 * 1024),
        progress=lambda done, total: progress("ocr", done, total, name),
        warnings=notes,
    )
    if warnings is not None:
        warnings += [(name, note) for note in notes]
    chunks = split_sections(sections, settings.chunk_size, settings.chunk_overlap)
    if not chunks:
        raise UnsupportedFile(name, "no text to index")
    kind = Path(name).suffix.lower().lstrip(".") or (sections[0].language or "")
    return PreparedDocument(name, kind, len(content), sha, chunks, [], content)


def _embed(
    kb: KnowledgeStore,
    docs: list[PreparedDocument],
    settings: IngestSettings,
    progress: Progress,
    previous: KnowledgeStore | None = None,
) -> tuple[int, int]:
    """Fill in each document's window vectors, reusing those ``kb`` (or ``previous``, the store a
    rebuild replaces) holds for the same text and embedding context (stores.vector_key: each window
    of a code or config chunk is embedded after its file and symbol path); returns (embedded,
    reused) chunk counts. New vectors use the window size ``kb`` records, so that all of its
    vectors are alike; a knowledge base that records none (written by an older version) takes the
    configured one."""
    chunks = [(d.name, c) for d in docs for c in d.chunks]
    if not chunks:
        return 0, 0
    shas = [stores.vector_key(name, c) for name, c in chunks]
    reused = kb.known_vectors(shas)
    if previous is not None:
        reused |= previous.known_vectors(s for s in shas if s not in reused)
    missing = list(dict.fromkeys(s for s in shas if s not in reused))
    window_chars = kb.window_chars or settings.window_chars
    chunk_of = dict(zip(shas, chunks, strict=True))
    embedder: Embedder = get_embedder(settings.embedder)
    fresh: dict[str, np.ndarray] = {}
    batch = settings.embed_batch_size
    progress("embed", 0, len(missing))
    for start in range(0, len(missing), batch):
        part = missing[start : start + batch]
        windows = [_embedded_windows(*chunk_of[sha], window_chars) for sha in part]
        rows = embedder.encode_passages([w for chunk in windows for w in chunk])
        offsets = np.cumsum([0] + [len(chunk) for chunk in windows])
        fresh.update((sha, rows[a:b]) for sha, a, b in zip(part, offsets[:-1], offsets[1:], strict=True))
        progress("embed", min(start + batch, len(missing)), len(missing))
    vectors = {**reused, **fresh}
    position = 0
    for doc in docs:
        doc.vectors = [vectors[s] for s in shas[position : position + len(doc.chunks)]]
        position += len(doc.chunks)
    return len(missing), len(shas) - len(missing)


def _embedded_windows(doc_name: str, chunk: ChunkText, window_chars: int) -> list[str]:
    """The texts embedded for ``chunk``: its windows, each after its embedding context if it has one."""
    context = stores.embedding_context(doc_name, chunk)
    windows = window_texts(chunk.text, window_chars)
    return [f"{context}\n{w}" for w in windows] if context else windows


def original_file(settings: IngestSettings, kb_name: str, doc_name: str) -> bytes:
    """The stored original of a document (for download, or to show a PDF page)."""
    kb = open_kb(settings, kb_name)
    try:
        return kb.original(doc_name)
    finally:
        kb.close()
