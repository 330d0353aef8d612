"""Plain records that cross module boundaries in ingest/ and rag/."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    """A stretch of a loaded document that shares one location (a PDF page, a heading)."""

    text: str
    page: int | None = None  # 1-based page number, for paged formats
    heading: str | None = None  # heading path, e.g. "安装 > 依赖"


@dataclass(frozen=True)
class ChunkText:
    """A chunk as the splitter makes it, before it has an id."""

    text: str
    page: int | None = None
    heading: str | None = None


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as the store holds it."""

    id: int
    doc_name: str
    ordinal: int  # position of the chunk inside its document, from 0
    text: str
    page: int | None = None
    heading: str | None = None

    @property
    def location(self) -> str:
        """Human-readable place of the chunk: 'file.pdf, p. 3' or 'guide.md, 安装 > 依赖'."""
        parts = [self.doc_name]
        if self.page is not None:
            parts.append(f"p. {self.page}")
        if self.heading:
            parts.append(self.heading)
        return ", ".join(parts)


@dataclass(frozen=True)
class DocumentInfo:
    """One document of a knowledge base, as listed to people."""

    name: str
    kind: str  # file extension without the dot
    size_bytes: int
    sha256: str
    chunks: int
    added_at: str  # ISO 8601, UTC
