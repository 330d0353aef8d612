"""Chinese-aware splitting of Sections into chunks of whole sentences, sized in characters.

A section's text is cut into units: sentences (。！？； always, . ! ? only before whitespace, so
3.14 and v1.2.3 stay whole), whole lines of code or commands, list items and headings. Units are
packed greedily up to ``chunk_size``; a chunk ends at a paragraph break or heading when one lies in
its second half, and never ends on a heading. Only a unit longer than ``chunk_size`` is cut, at a
line break, then a clause mark, then whitespace, else hard. Chunks are slices of the section text,
so citations can point back into it. One pass over the text: linear time.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import groupby

from ingest.code_splitter import split_code
from ingest.types import ChunkText, Section

TABLE_HEADER_LINES = 2
_CLOSE = "\"'”’)\\]）」』】》"
_SENT_END = re.compile(rf"(?:[。！？；][。！？；!?]*|[.!?]+(?=[\s{_CLOSE}]|$))[{_CLOSE}]*")
_ABBREV = re.compile(r"\b(?:e\.g|i\.e|etc|vs|cf|Mr|Mrs|Dr|No|Fig)\.\Z")
_MARKER = re.compile(r"(?:\d{1,3}|[A-Za-z])\.")  # "1." opening a list item
_BLOCK = re.compile(
    r"\s*(?:[-*+•·]\s|\d{1,3}(?:[.)]\s|、)|[（(]\d{1,3}[)）]|[一二三四五六七八九十]{1,3}、"
    r"|第[一二三四五六七八九十百\d]+[章节条部]|>|\|)"
)
_CODE = re.compile(r"(?: {4}|\t)|\s*(?:\$|>>>|PS>|C:\\>)\s")
_FENCE = re.compile(r"\s*(?:```|~~~)")
_HEADING = re.compile(r" {0,3}#{1,6}\s")
_LINE_START = re.compile(f"{_BLOCK.pattern}|{_CODE.pattern}|{_FENCE.pattern}|{_HEADING.pattern}")
_CLAUSE = re.compile(r"[，、；：]|[,;:](?=\s)")
_NONSPACE = re.compile(r"\S")


@dataclass(slots=True)
class _Unit:
    start: int
    end: int
    strong: bool = False  # a paragraph break or heading follows: a preferred place to end a chunk
    whole: bool = True  # a whole prose sentence, so it may be repeated as overlap
    heading: bool = False


def _units(text: str, size: int) -> list[_Unit]:
    units: list[_Unit] = []

    def add(start: int, end: int, heading: bool = False, prose: bool = True) -> None:
        first = _NONSPACE.search(text, start, end)
        if first is None:
            return
        start = first.start()
        while text[end - 1].isspace():
            end -= 1
        whole = prose and end - start <= size
        while end - start > size:  # only a unit longer than a chunk is ever cut
            cut = _cut_point(text, start, start + size)
            piece_end = cut
            while text[piece_end - 1].isspace():
                piece_end -= 1
            units.append(_Unit(start, piece_end, whole=False))
            start = _NONSPACE.search(text, cut, end).start()  # type: ignore[union-attr]
        units.append(_Unit(start, end, whole=whole, heading=heading))

    def prose(start: int, end: int) -> None:
        cur = start
        for m in _SENT_END.finditer(text, start, end):
            tail = text[max(cur, m.end() - 8) : m.end()]
            if not _ABBREV.search(tail) and not (m.end() - cur <= 8 and _MARKER.fullmatch(tail.strip())):
                add(cur, m.end())
                cur = m.end()
        add(cur, end)

    pos, run, fence = 0, -1, False
    for line in text.split("\n"):
        start, end = pos, pos + len(line)
        pos = end + 1
        if run >= 0 and (fence or not line.strip() or _LINE_START.match(line)):
            prose(run, start)
            run = -1
        if not line.strip():
            if units:
                units[-1].strong = True
        elif fence or _FENCE.match(line):
            add(start, end, prose=False)
            fence ^= _FENCE.match(line) is not None
        elif _HEADING.match(line):
            if units:
                units[-1].strong = True
            add(start, end, heading=True, prose=False)
        elif _CODE.match(line):
            add(start, end, prose=False)
        elif run < 0:  # prose and list items run on over wrapped lines until a sentence ends
            run = start
    if run >= 0:
        prose(run, len(text))
    return units


def _cut_point(text: str, start: int, limit: int) -> int:
    """Where to cut an overlong unit inside text[start:limit]: line, clause, space, else hard."""
    # Prefer cuts that leave a piece of at least a third of a chunk; a short piece beats a cut word.
    for low in (start + (limit - start) // 3, start + 1):
        newline = text.rfind("\n", low, limit)
        if newline != -1:
            return newline
        clauses = [m.end() for m in _CLAUSE.finditer(text, low, limit)]
        if clauses:
            return clauses[-1]
        space = max(text.rfind(" ", low, limit), text.rfind("\u3000", low, limit))
        if space != -1:
            return space
    return limit


def split_text_spans(text: str, chunk_size: int, overlap: int) -> list[tuple[int, int]]:
    """Chunk boundaries of one text as (start, end) offsets; ``text[start:end]`` is the chunk.

    Consecutive spans overlap by whole sentences of at most ``overlap`` characters; whitespace
    between spans is the only text no span covers.
    """
    if chunk_size < 1 or not 0 <= overlap < chunk_size:
        raise ValueError(f"need chunk_size >= 1 and 0 <= overlap < chunk_size, got {chunk_size}, {overlap}")
    units = _units(text, chunk_size)
    spans: list[tuple[int, int]] = []
    first, k = 0, 1
    while k < len(units):
        if units[k].end - units[first].start <= chunk_size:
            k += 1
            continue
        start, cut = units[first].start, k - 1
        for m in range(k - 1, first - 1, -1):  # the last paragraph break that keeps the chunk half full
            if units[m].end - start < chunk_size // 2:
                break
            if units[m].strong:
                cut = m
                break
        while cut > first and units[cut].heading:  # a heading belongs with what follows it
            cut -= 1
        end = units[cut].end
        spans.append((start, end))
        nxt = cut + 1
        if not units[nxt].heading:
            while (
                nxt - 1 > first
                and units[nxt - 1].whole
                and end - units[nxt - 1].start <= overlap
                and units[k].end - units[nxt - 1].start <= chunk_size
            ):
                nxt -= 1
        first = nxt
    if units:
        spans.append((units[first].start, units[-1].end))
    return spans


def split_sections(sections: Sequence[Section], chunk_size: int, overlap: int) -> list[ChunkText]:
    """Split Sections into ChunkTexts of at most ``chunk_size`` characters, in document order.

    Chunks hold whole sentences (a sentence longer than ``chunk_size`` alone is cut at a clause
    mark or space), repeat up to ``overlap`` characters of the previous chunk's last sentences,
    and never span two sections with a different page or heading; each carries its section's
    page, heading, kind and OCR flag, and, when the section knows the line it starts on, the
    chunk's own first and last line. Empty sections give no chunks. Code and config sections are
    cut along their syntax instead (code_splitter.split_code), without overlap.
    """
    chunks: list[ChunkText] = []
    for is_code, run in groupby(sections, key=lambda s: s.kind in {"code", "config"}):
        if is_code:
            chunks += [c for s in run for c in split_code(s.text, s.language, s.kind, chunk_size, s.first_line or 1)]
        else:
            chunks += _split_prose(list(run), chunk_size, overlap)
    return chunks


def _split_prose(sections: Sequence[Section], chunk_size: int, overlap: int) -> list[ChunkText]:
    merged: list[Section] = []
    for section in sections:
        last = merged[-1] if merged else None
        if last is not None and last.first_line is None and section.first_line is None and _same_place(last, section):
            merged[-1] = replace(last, text=last.text + "\n\n" + section.text)
        else:
            merged.append(section)
    return [chunk for section in merged for chunk in _chunks_of(section, chunk_size, overlap)]


def _same_place(a: Section, b: Section) -> bool:
    return (a.page, a.heading, a.kind, a.ocr) == (b.page, b.heading, b.kind, b.ocr)


def _chunks_of(section: Section, chunk_size: int, overlap: int) -> list[ChunkText]:
    text = section.text
    newlines = [i for i, ch in enumerate(text) if ch == "\n"] if section.first_line is not None else []
    # A block of sheet rows starts with the header row and the |---| line, which are not its rows.
    skip = TABLE_HEADER_LINES if section.kind == "table" else 0
    chunks = []
    for start, end in split_text_spans(text, chunk_size, overlap):
        lines = None
        if section.first_line is not None:
            first = section.first_line + max(0, bisect.bisect_left(newlines, start) - skip)
            lines = (first, max(first, section.first_line + bisect.bisect_left(newlines, end - 1) - skip))
        chunks.append(ChunkText(text[start:end], section.page, section.heading, lines, section.kind, section.ocr))
    return chunks
