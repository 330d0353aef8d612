"""Office documents: Word .docx (headings as sections) and PowerPoint .pptx (one section per slide).

Tables of both become Markdown tables in reading order. Spreadsheets are in sheets.py.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from typing import Any

from ingest.errors import UnsupportedFile
from ingest.loaders.prose import Outline
from ingest.loaders.tables import markdown_table
from ingest.loaders.text import normalize_text
from ingest.loaders.zipped import check_zip
from ingest.types import Section

NOTES_LINE = "备注 / Notes:"
"""The line between a slide's own text and its speaker notes."""


def load_docx(data: bytes, name: str, max_bytes: int) -> list[Section]:
    """Sections by heading path (Heading 1-9 / 标题 1-9 styles); tables as Markdown tables in place."""
    import docx
    from docx.table import Table

    check_zip(data, name, max_bytes, "Word .docx", ".doc")
    try:
        document = docx.Document(io.BytesIO(data))
        blocks = list(document.iter_inner_content())
    except Exception:  # PackageNotFoundError, KeyError for a missing part, XML errors
        reason = "is not a valid Word .docx file (damaged, or an old .doc renamed: save it as .docx)"
        raise UnsupportedFile(name, reason) from None
    outline = Outline("\n\n")
    for block in blocks:
        if isinstance(block, Table):
            outline.body.append(markdown_table([_docx_row(row.cells) for row in block.rows]))
            continue
        text = block.text.strip()
        style = re.fullmatch(r"(?:[Hh]eading|标题)\s*([1-9])", block.style.name if block.style else "")
        if style and text:
            outline.heading(int(style.group(1)), text)
        elif text:
            outline.body.append(text)
    return outline.flush()


def _docx_row(cells: list[Any]) -> list[str]:
    # a cell merged across columns comes back once per column: its text goes in the first, so that
    # the other columns stay under their headers
    return ["" if i and cell._tc is cells[i - 1]._tc else cell.text for i, cell in enumerate(cells)]


def load_pptx(data: bytes, name: str, max_bytes: int) -> list[Section]:
    """One kind="slides" Section per slide that has text: page = slide number, heading = its title,
    the text of its shapes in reading order, then its speaker notes after NOTES_LINE."""
    import pptx

    check_zip(data, name, max_bytes, "PowerPoint .pptx", ".ppt")
    try:
        slides = [_slide_text(slide) for slide in pptx.Presentation(io.BytesIO(data)).slides]
    except Exception:  # PackageNotFoundError, KeyError for a missing part, XML errors
        reason = "is not a valid PowerPoint .pptx file (damaged, or an old .ppt renamed: save it as .pptx)"
        raise UnsupportedFile(name, reason) from None
    return [
        Section(text, page=number, heading=title, kind="slides")
        for number, (title, text) in enumerate(slides, start=1)
        if text
    ]


def _slide_text(slide: Any) -> tuple[str | None, str]:
    title_shape = slide.shapes.title
    title = " ".join(title_shape.text_frame.text.split()) if title_shape is not None else ""
    others = [s for s in slide.shapes if title_shape is None or s.shape_id != title_shape.shape_id]
    parts = [title, *_shapes_text(others)]
    notes = ""
    if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
        notes = normalize_text(slide.notes_slide.notes_text_frame.text.replace("\v", "\n"))
    text = "\n\n".join(p for p in parts if p)
    if notes:
        text = f"{text}\n\n{NOTES_LINE}\n{notes}" if text else f"{NOTES_LINE}\n{notes}"
    return title or None, text


def _shapes_text(shapes: Iterable[Any]) -> list[str]:
    """Text of shapes top to bottom, then left to right; a group's shapes in their own order."""
    from pptx.shapes.group import GroupShape

    ordered = sorted(shapes, key=lambda s: (s.top or 0, s.left or 0))
    parts: list[str] = []
    for shape in ordered:
        if isinstance(shape, GroupShape):
            parts += _shapes_text(shape.shapes)
        elif shape.has_text_frame:
            parts.append(normalize_text(shape.text_frame.text.replace("\v", "\n")))  # \v: a line break
        elif shape.has_table:
            parts.append(markdown_table([[cell.text for cell in row.cells] for row in shape.table.rows]))
    return [p for p in parts if p.strip()]
