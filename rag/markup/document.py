"""Markdown documents made from answers (the conversation export): formatting kept, nothing active."""

from __future__ import annotations

import re

from markdown_it import MarkdownIt

# What makes inline Markdown mid-line (an underscore inside a word never does).
_INERT_PUNCTUATION = re.compile(r"([\\`*\[\]!|~]|(?<!\w)_|_(?!\w))")
_FENCES = MarkdownIt("commonmark")


def markdown_inert(text: str) -> str:
    """One line of plain text for a Markdown document: shown exactly as written, never markup."""
    line = " ".join(text.split())
    return _INERT_PUNCTUATION.sub(r"\\\1", line.replace("&", "&amp;").replace("<", "&lt;"))


def markdown_answer(text: str) -> str:
    """An answer's Markdown for the export with its formatting kept and nothing active: raw HTML,
    images and links show as text (fenced and indented code blocks are kept as written; inline
    code with ``<`` or ``&`` shows them as entities, the price of never guessing what is code)."""
    lines = text.split("\n")
    verbatim = {
        line
        for token in _FENCES.parse(text)
        if token.type in {"fence", "code_block"} and token.map
        for line in range(token.map[0] + (token.type == "fence"), token.map[1] - (token.type == "fence"))
    }
    out = []
    for number, line in enumerate(lines):
        if number not in verbatim:
            line = line.replace("&", "&amp;").replace("<", "&lt;").replace("![", "!\\[").replace("](", "]\\(")
            line = re.sub(r"^(\s*)\[([^\]]*)\]:", r"\1[\2]\\:", line)
        out.append(line)
    return "\n".join(out)
