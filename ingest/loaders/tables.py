"""Rows of cells -> Markdown tables, and sheets cut into Sections that each repeat the header row.

Shared by Word and PowerPoint tables (office.py) and by spreadsheets and CSV files (sheets.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from ingest.loaders.text import normalize_text
from ingest.types import Section

TABLE_SECTION_CHARS = 800
"""Most characters in one Section of a sheet (header and separator included).

The same as the default ``chunk_size``: the splitter keeps a Section that fits in a chunk whole, so
every chunk of a sheet is exactly one Section and starts with the header row. Larger blocks would be
cut by the splitter, leaving pieces without a header; smaller ones would repeat the header more
often than needed. A single row longer than this still gets its own Section (the splitter then cuts it).
"""


def cell_text(value: str) -> str:
    """One cell's text fit for a Markdown table row: control characters dropped, whitespace runs
    (newlines too) one space, pipes and backslashes escaped."""
    return " ".join(normalize_text(value).split()).replace("\\", "\\\\").replace("|", "\\|")


def table_row(cells: Sequence[str], width: int) -> str:
    """``| a | b | |``: the cells (already escaped) padded with empty ones to ``width`` columns."""
    padded = [*cells, *[""] * (width - len(cells))]
    return "|" + "|".join(f" {cell} " if cell else " " for cell in padded) + "|"


def separator(width: int) -> str:
    """The Markdown line under a header row: ``|---|---|``."""
    return "|" + "---|" * width


def markdown_table(rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table: the first row is the header, then ``|---|``, then the rest (cells escaped here).

    Empty rows are dropped; an empty table gives an empty string.
    """
    kept = [[cell_text(c) for c in row] for row in rows if any(c.strip() for c in row)]
    if not kept:
        return ""
    width = max(len(row) for row in kept)
    lines = [table_row(kept[0], width), separator(width)]
    return "\n".join(lines + [table_row(row, width) for row in kept[1:]])


def sheet_sections(
    rows: Sequence[tuple[int, Sequence[str]]], heading: str | None, budget: int = TABLE_SECTION_CHARS
) -> list[Section]:
    """One sheet (``(row number, raw cells)`` pairs, in order) as kind="table" Sections of at most
    ``budget`` characters, each opening with the header (the first non-empty row) and the separator.

    Columns empty in every row and rows with no text are dropped; ``first_line`` is the sheet row
    number of a Section's first data row (of the header row when the sheet has nothing else).
    """
    cleaned = [(number, [cell_text(c) for c in cells]) for number, cells in rows]
    cleaned = [(number, cells) for number, cells in cleaned if any(cells)]
    if not cleaned:
        return []
    used = sorted({i for _, cells in cleaned for i, cell in enumerate(cells) if cell})
    cleaned = [(number, [cells[i] if i < len(cells) else "" for i in used]) for number, cells in cleaned]
    width = len(used)
    (header_number, header), body = cleaned[0], cleaned[1:]
    top = table_row(header, width) + "\n" + separator(width)
    if not body:
        return [Section(top, heading=heading, first_line=header_number, kind="table")]
    sections: list[Section] = []
    block: list[str] = []
    first = body[0][0]
    size = len(top)
    for number, cells in body:
        line = table_row(cells, width)
        if block and size + 1 + len(line) > budget:
            sections.append(Section("\n".join([top, *block]), heading=heading, first_line=first, kind="table"))
            block, first, size = [], number, len(top)
        block.append(line)
        size += 1 + len(line)
    sections.append(Section("\n".join([top, *block]), heading=heading, first_line=first, kind="table"))
    return sections
