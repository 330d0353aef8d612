"""Plain records that cross module boundaries in ingest/ and rag/."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

ChunkKind = Literal["doc", "code", "config", "table", "slides"]
"""What a passage is: prose, source code, a config or data file, rows of a sheet, a slide."""


@dataclass(frozen=True)
class Section:
    """A stretch of a loaded document that shares one location (a PDF page, a heading, a symbol)."""

    text: str
    page: int | None = None  # 1-based page (or slide) number, for paged formats
    heading: str | None = None  # heading path, e.g. "安装 > 依赖"; for code the symbol path
    first_line: int | None = None  # 1-based line (or sheet row) of the file where ``text`` starts
    kind: ChunkKind = "doc"
    language: str | None = None  # code and config: the parser's language name, e.g. "python"
    ocr: bool = False  # the text was recognised in an image (a scan), not read from the file


@dataclass(frozen=True)
class ChunkText:
    """A chunk as the splitter makes it, before it has an id."""

    text: str
    page: int | None = None
    heading: str | None = None
    lines: tuple[int, int] | None = None  # first and last line (1-based, inclusive) in the file
    kind: ChunkKind = "doc"
    ocr: bool = False


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as the store holds it."""

    id: int
    doc_name: str
    ordinal: int  # position of the chunk inside its document, from 0
    text: str
    page: int | None = None
    heading: str | None = None
    lines: tuple[int, int] | None = None
    kind: ChunkKind = "doc"
    ocr: bool = False

    @property
    def location(self) -> str:
        """Human-readable place of the chunk: 'file.pdf, p. 3', 'guide.md, 安装 > 依赖',
        'src/app.py:120-158 · main › load'."""
        place = self.doc_name
        if self.lines is not None:
            first, last = self.lines
            place += f":{first}" if first == last else f":{first}-{last}"
        if self.page is not None:
            place += f", {'slide' if self.kind == 'slides' else 'p.'} {self.page}"
        if self.heading:
            place += f" · {self.heading}" if self.kind in {"code", "config"} else f", {self.heading}"
        return place


@dataclass(frozen=True)
class DocumentInfo:
    """One document of a knowledge base, as listed to people."""

    name: str
    kind: str  # file extension without the dot
    size_bytes: int
    sha256: str
    chunks: int
    added_at: str  # ISO 8601, UTC


@dataclass(frozen=True)
class IncomingFile:
    """A file to ingest: the document name it will have, and where its bytes are now."""

    name: str
    path: Path
