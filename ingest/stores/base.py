"""What the rest of the product uses of a knowledge base, whatever holds it (SQLite + FAISS, Milvus).

A store keeps *documents* (a name, a hash, the original file), their *chunks* (a place in a
document: ordinal, page, heading or symbol, line range) and *passages*: each distinct chunk of a
document once (its heading and text), with its keyword terms (the document's path among them)
and its window vectors. A document that repeats itself (a generated log, an export of 150 MB of
the same twenty paragraphs) is stored, indexed and embedded once per distinct passage; the same
text in another document reuses the vectors (known_vectors). Searches return passage ids;
``passages()`` turns them into a chunk that holds the text.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from ingest.errors import IndexMismatch, KnowledgeBaseError
from ingest.types import ChunkText, DocumentInfo, StoredChunk

Scored = list[tuple[int, float]]
"""(passage id, score: higher is better), best first."""

WriteProgress = Callable[[str, int, int], None]
"""progress(stage, done, total) while a store writes: 'write' (chunks), 'index' (vectors)."""


def no_progress(stage: str, done: int, total: int) -> None:
    """A progress callback that shows nothing."""


def text_sha(text: str) -> str:
    """The key of a passage: chunks with this text share one passage and its vectors."""
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def embedding_context(doc_name: str, chunk: ChunkText | StoredChunk) -> str:
    """The line embedded before each window of a code or config chunk: its file and symbol path
    (``src/click/core.py › Context › invoke``). A function's body often names neither what it is
    for nor where it lives; a Chinese question about it ("删掉一个词的代码") matches the symbol's
    name better (bench/report.md, project section). Prose carries its meaning in its text: none."""
    if chunk.kind not in ("code", "config"):
        return ""
    return f"{doc_name} › {chunk.heading}" if chunk.heading else doc_name


def vector_key(doc_name: str, chunk: ChunkText | StoredChunk) -> str:
    """The key whose window vectors a chunk may reuse (``known_vectors``): of its text, and for code
    and config of its embedding context too, so vectors embedded under another path or symbol, or
    without one (a knowledge base built before the context existed), are embedded afresh."""
    context = embedding_context(doc_name, chunk)
    return text_sha(f"{context}\n{chunk.text}" if context else chunk.text)


def passage_key(doc_name: str, chunk: ChunkText) -> str:
    """Chunks of one document with the same heading and text are one passage (a file repeating
    itself is stored, indexed and embedded once; vectors are shared across documents by text)."""
    return text_sha(f"{doc_name}\n{chunk.heading or ''}\n{chunk.text}")


def keyword_text(doc_name: str, chunk: ChunkText) -> str:
    """What a passage is found by: its document's path (``src/click/shell_completion.py`` gives
    shell_completion, shell, completion), its heading or symbol path, and its text."""
    return f"{doc_name}\n{chunk.heading or ''}\n{chunk.text}"


def embedder_mismatch(kb_name: str, built_with: str, dim: int, configured: str) -> IndexMismatch:
    """The error for a knowledge base opened with another embedder than it was built with."""
    return IndexMismatch(
        f"knowledge base '{kb_name}' was built with embedder '{built_with}' (dim {dim}), "
        f"but the configured embedder is '{configured}': set KBA_EMBEDDER to match, or re-embed it "
        f"with: python -m ingest rebuild --kb {kb_name}"
    )


@dataclass
class PreparedDocument:
    """A document split and embedded, ready to be written in one operation."""

    name: str
    kind: str  # file extension without the dot
    size_bytes: int
    sha256: str  # of ``content``: names the stored original
    chunks: list[ChunkText]
    vectors: list[np.ndarray]  # per chunk, (windows, dim) unit rows
    content: bytes | None  # the original file, kept so the knowledge base can be rebuilt (None: lost)
    added_at: str | None = None  # ISO 8601, UTC; None: now (a migration keeps the original's)


def check_shapes(doc: PreparedDocument, dim: int) -> None:
    """KnowledgeBaseError unless ``doc`` has one (windows, ``dim``) matrix per chunk, each with a window."""
    shapes = [np.shape(m) for m in doc.vectors]
    if len(shapes) != len(doc.chunks) or any(len(s) != 2 or s[0] < 1 or s[1] != dim for s in shapes):
        raise KnowledgeBaseError(
            f"{doc.name}: window vectors of shapes {shapes[:3]}..., expected one (windows, {dim}) "
            f"matrix for each of {len(doc.chunks)} chunks"
        )


class KnowledgeStore(ABC):
    """One knowledge base. Readers may share it between threads; writers hold ingest.locks.write_lock."""

    name: str
    embedder_name: str
    dim: int
    window_chars: int | None  # the window size its vectors were embedded with (None: not recorded)
    read_only: bool

    # --- reading ---

    @property
    @abstractmethod
    def generation(self) -> int:
        """Counter that every committed change increments."""

    @abstractmethod
    def documents(self) -> list[DocumentInfo]:
        """Every document with its chunk count, by name."""

    @abstractmethod
    def document_hashes(self) -> dict[str, str]:
        """Document name -> SHA-256 of its original."""

    @abstractmethod
    def is_empty(self) -> bool:
        """Whether the knowledge base holds no chunk (cheap at any size)."""

    @abstractmethod
    def chunk_count(self) -> int:
        """Chunks in all documents."""

    @abstractmethod
    def chunks_of(self, doc_name: str) -> list[StoredChunk]:
        """The chunks of one document in reading order."""

    @abstractmethod
    def chunk_at(self, doc_name: str, ordinal: int) -> StoredChunk | None:
        """The chunk at ``ordinal`` of a document, if there is one."""

    @abstractmethod
    def passages(self, ids: Iterable[int]) -> dict[int, StoredChunk]:
        """Passage id -> the first chunk (in document order) holding it; ids no document holds are left out."""

    @abstractmethod
    def known_vectors(self, shas: Iterable[str]) -> dict[str, np.ndarray]:
        """Window vectors of the passages with these text hashes (so they are not embedded again)."""

    @abstractmethod
    def keyword_search(self, query: str, k: int) -> Scored:
        """BM25 over the passages' keyword terms (ingest.keywords)."""

    @abstractmethod
    def dense_search(self, query_vector: np.ndarray, k: int, mean_weight: float = 0.0) -> Scored:
        """The ``k`` passages nearest the query: cosine of the best window blended with
        ``mean_weight`` of the cosine of the windows' mean direction."""

    @abstractmethod
    def dense_scores(self, query_vector: np.ndarray, ids: Iterable[int], mean_weight: float = 0.0) -> dict[int, float]:
        """Passage id -> the score ``dense_search`` gives it for this query (ingest.windows.passage_score,
        from its stored windows), for any passages, found by that search or not."""

    @abstractmethod
    def original(self, doc_name: str) -> bytes:
        """The document's original file; KnowledgeBaseError when it is missing."""

    @abstractmethod
    def stats(self) -> dict[str, int | str]:
        """Sizes and settings, for people (``window_chars`` where the store records it)."""

    # --- writing (hold write_lock) ---

    @abstractmethod
    def apply(
        self, upserts: Iterable[PreparedDocument], removals: Iterable[str] = (), progress: WriteProgress = no_progress
    ) -> None:
        """Add or replace documents and remove others: readers see all of it or none of it."""

    @abstractmethod
    def verify_index(self) -> bool:
        """Check what the searches read against what the store holds, and repair it (hold write_lock):
        True when something had to be repaired."""

    @abstractmethod
    def close(self) -> None:
        """Release files and connections."""
