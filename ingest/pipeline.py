"""Files -> knowledge base, the one code path behind the CLI and the browser.

Each operation holds the knowledge base's write lock, does the slow work (parse, split, embed)
without touching the index, then writes everything in one transaction: an interrupted or failed
run leaves the previous index whole. A file that cannot be read is reported and skipped; the
other files are still ingested. Unchanged files (same SHA-256) are not parsed or embedded, and
chunks whose text is already in the index reuse their vectors.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ingest.embeddings import Embedder, embedder_id, get_embedder
from ingest.errors import IndexMismatch, KnowledgeBaseError, KnowledgeBaseNotFound, UnsupportedFile
from ingest.loaders import parse_document
from ingest.locks import write_lock
from ingest.names import safe_file_name, safe_relative_name
from ingest.splitter import split_sections
from ingest.store import DB_NAME, FILES_DIR, KnowledgeBase, PreparedDocument, text_sha
from ingest.windows import window_texts
from rag.config import Settings

Progress = Callable[[str, int, int], None]
"""progress(stage, done, total): stage is 'parse' (files) or 'embed' (chunks)."""


def _no_progress(stage: str, done: int, total: int) -> None:
    pass


@dataclass(frozen=True)
class IncomingFile:
    """A file to ingest: the document name it will have, and where its bytes are now."""

    name: str
    path: Path


@dataclass
class IngestReport:
    """What an operation did, for the CLI summary and the browser's messages."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    chunks_embedded: int = 0
    chunks_reused: int = 0
    seconds: float = 0.0


def open_kb(settings: Settings, name: str) -> KnowledgeBase:
    """Open knowledge base ``name``, insisting it was built with the configured embedder."""
    return KnowledgeBase.open(settings.kb_dir(name), embedder_id(settings.embedder))


def create_kb(settings: Settings, name: str) -> KnowledgeBase:
    """Create an empty knowledge base for the configured embedder."""
    embedder = get_embedder(settings.embedder)
    return KnowledgeBase.create(settings.kb_dir(name), embedder.name, embedder.dim)


def delete_kb(settings: Settings, name: str) -> None:
    """Remove a knowledge base and its files."""
    folder = settings.kb_dir(name)
    if not (folder / DB_NAME).is_file():
        raise KnowledgeBaseNotFound(f"knowledge base '{name}' does not exist")
    with write_lock(folder, settings.lock_timeout_s):
        trash = folder.with_name(f".{name}.deleting")
        folder.rename(trash)
        shutil.rmtree(trash)


def files_in(source: Path) -> list[IncomingFile]:
    """Supported files under ``source`` (recursively), named by their path relative to it."""
    if not source.is_dir():
        raise KnowledgeBaseError(f"source folder {source} does not exist")
    found = sorted(p for p in source.rglob("*") if p.is_file() and not p.name.startswith("."))
    return [IncomingFile(safe_relative_name(p.relative_to(source).as_posix()), p) for p in found]


def add_files(
    settings: Settings, kb_name: str, files: Sequence[IncomingFile], progress: Progress = _no_progress
) -> IngestReport:
    """Add or replace ``files`` in the knowledge base (created if missing)."""
    return _sync(settings, kb_name, files, remove_others=False, progress=progress)


def build_from_folder(
    settings: Settings, kb_name: str, source: Path, progress: Progress = _no_progress
) -> IngestReport:
    """Make the knowledge base hold exactly the files under ``source``; unsupported ones are reported."""
    return _sync(settings, kb_name, files_in(source), remove_others=True, progress=progress)


def remove_documents(settings: Settings, kb_name: str, names: Iterable[str]) -> IngestReport:
    """Remove documents (by name, or by a path whose file name is the document name)."""
    started = time.perf_counter()
    folder = settings.kb_dir(kb_name)
    report = IngestReport()
    with write_lock(folder, settings.lock_timeout_s):
        kb = open_kb(settings, kb_name)
        try:
            known = kb.document_hashes()
            for name in names:
                match = name if name in known else safe_file_name(name)
                if match in known:
                    report.removed.append(match)
                else:
                    report.failed.append((name, "no such document in the knowledge base"))
            if report.removed:
                kb.apply([], report.removed)
        finally:
            kb.close()
    report.seconds = time.perf_counter() - started
    return report


def rebuild(settings: Settings, kb_name: str, progress: Progress = _no_progress) -> IngestReport:
    """Re-parse and re-embed every stored document with the current settings (e.g. a new embedder).

    The new index is built beside the old one and swapped in when complete.
    """
    folder = settings.kb_dir(kb_name)
    if not (folder / DB_NAME).is_file():
        raise KnowledgeBaseNotFound(f"knowledge base '{kb_name}' does not exist")
    staging_name = f".{kb_name}.rebuilding"
    staging = folder.with_name(staging_name)
    with write_lock(folder, settings.lock_timeout_s):
        shutil.rmtree(staging, ignore_errors=True)
        originals = folder / FILES_DIR
        incoming = [
            IncomingFile(p.relative_to(originals).as_posix(), p)
            for p in sorted(originals.rglob("*"))
            if p.is_file() and not p.name.startswith(".")
        ]
        embedder = get_embedder(settings.embedder)
        new_kb = KnowledgeBase.create(staging, embedder.name, embedder.dim)
        try:
            report = _ingest_into(new_kb, settings, incoming, remove_others=False, progress=progress)
        finally:
            new_kb.close()
        retired = folder.with_name(f".{kb_name}.retired")
        shutil.rmtree(retired, ignore_errors=True)
        folder.rename(retired)
        staging.rename(folder)
        shutil.rmtree(retired)
    return report


def _sync(
    settings: Settings, kb_name: str, files: Sequence[IncomingFile], *, remove_others: bool, progress: Progress
) -> IngestReport:
    folder = settings.kb_dir(kb_name)
    with write_lock(folder, settings.lock_timeout_s):
        kb = open_kb(settings, kb_name) if (folder / DB_NAME).is_file() else create_kb(settings, kb_name)
        try:
            return _ingest_into(kb, settings, files, remove_others=remove_others, progress=progress)
        finally:
            kb.close()


def _ingest_into(
    kb: KnowledgeBase,
    settings: Settings,
    files: Sequence[IncomingFile],
    *,
    remove_others: bool,
    progress: Progress,
) -> IngestReport:
    started = time.perf_counter()
    report = IngestReport()
    known = kb.document_hashes()
    max_bytes = int(settings.max_file_mb * 1024 * 1024)
    pending: list[PreparedDocument] = []
    for done, incoming in enumerate(files, start=1):
        try:
            doc = _prepare(incoming, known, settings, max_bytes)
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
        kb.apply(pending, report.removed)
    report.seconds = time.perf_counter() - started
    return report


def _prepare(
    incoming: IncomingFile, known: dict[str, str], settings: Settings, max_bytes: int
) -> PreparedDocument | None:
    """Parse and split one file; None when the stored copy is identical."""
    try:
        size = incoming.path.stat().st_size
        if size > max_bytes:
            raise UnsupportedFile(
                incoming.name, f"file is {size / 2**20:.1f} MB, over the {settings.max_file_mb:g} MB limit"
            )
        content = incoming.path.read_bytes()
    except FileNotFoundError:
        raise UnsupportedFile(incoming.name, "file disappeared before it could be read") from None
    except IsADirectoryError:
        raise UnsupportedFile(incoming.name, "is a folder, not a file") from None
    sha = hashlib.sha256(content).hexdigest()
    if known.get(incoming.name) == sha:
        return None
    sections = parse_document(incoming.path.name, content, max_bytes)
    chunks = split_sections(sections, settings.chunk_size, settings.chunk_overlap)
    if not chunks:
        raise UnsupportedFile(incoming.name, "no text to index")
    kind = incoming.path.suffix.lower().lstrip(".")
    return PreparedDocument(incoming.name, kind, len(content), sha, chunks, [], content)


def _embed(kb: KnowledgeBase, docs: list[PreparedDocument], settings: Settings, progress: Progress) -> tuple[int, int]:
    """Fill in each document's window vectors, reusing known ones; returns (embedded, reused) chunk counts."""
    texts = [c.text for d in docs for c in d.chunks]
    if not texts:
        return 0, 0
    shas = [text_sha(t) for t in texts]
    reused = kb.known_vectors(shas)
    missing = list(dict.fromkeys(s for s in shas if s not in reused))
    text_of = dict(zip(shas, texts, strict=True))
    embedder: Embedder = get_embedder(settings.embedder)
    fresh: dict[str, np.ndarray] = {}
    batch = settings.embed_batch_size
    progress("embed", 0, len(missing))
    for start in range(0, len(missing), batch):
        part = missing[start : start + batch]
        windows = [window_texts(text_of[sha], settings.window_chars) for sha in part]
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


def upgrade_if_unreadable(settings: Settings, kb_name: str, progress: Progress = _no_progress) -> IngestReport | None:
    """Rebuild an existing knowledge base from its own stored files if this version cannot read its
    index (written by another version or another embedder, or damaged); None if it opens as it is.
    """
    try:
        open_kb(settings, kb_name).close()
    except IndexMismatch:
        return rebuild(settings, kb_name, progress)
    return None


def ensure_default_kb(settings: Settings, progress: Progress = _no_progress) -> IngestReport | None:
    """Build the shipped default knowledge base from data/sample on first run, or rebuild it when
    an older version wrote it; None if it is ready as it is."""
    if (settings.kb_dir(settings.default_kb) / DB_NAME).is_file():
        return upgrade_if_unreadable(settings, settings.default_kb, progress)
    return build_from_folder(settings, settings.default_kb, settings.sample_docs_dir, progress)
