"""The numbered sources as the checker reads them: the whole text and its sentences, with offsets.

Offsets are into the source text exactly as given, so a verdict's evidence can be highlighted in
the passage the user sees.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ingest.keywords import CJK_CHAR
from rag.verify.text import UnitIndex, is_cjk, normalise

# A source sentence ends after a terminator (and closing quotes), at a line break, or at ". ".
_SPAN_END = re.compile(r"[。！？；!?]+[”’」』）)\"']*|\n+|\.(?=\s|$)")


@dataclass(frozen=True)
class Span:
    """One sentence of a source: ``text[start:end]`` of source ``number``."""

    number: int
    start: int
    end: int
    text: str
    index: UnitIndex


@dataclass(frozen=True)
class Source:
    """A numbered source: its text, its units, its sentences, and whether it is mostly Chinese."""

    number: int
    text: str
    index: UnitIndex
    spans: tuple[Span, ...]
    chinese: bool


def _spans(number: int, text: str, norm: str) -> tuple[Span, ...]:
    spans, start = [], 0
    for match in [*_SPAN_END.finditer(text), None]:
        end = match.end() if match else len(text)
        piece = text[start:end]
        left = start + len(piece) - len(piece.lstrip())
        right = start + len(piece.rstrip())
        index = UnitIndex.of_normalised(norm[left:right])  # normalise keeps positions
        if right > left and index.units:
            spans.append(Span(number, left, right, text[left:right], index))
        start = end
    return tuple(spans)


def read_sources(sources: Mapping[int, str]) -> dict[int, Source]:
    """Each source split into sentences and indexed once per call."""
    read = {}
    for number, text in sorted(sources.items()):
        cjk = len(CJK_CHAR.findall(text))
        letters = len(re.findall(r"[A-Za-z]", text))
        chinese = is_cjk(text) and cjk * 3 >= letters
        norm = normalise(text)
        spans = _spans(number, text, norm)
        units = frozenset().union(*(span.index.units for span in spans))
        read[number] = Source(number, text, UnitIndex(norm, units), spans, chinese)
    return read
