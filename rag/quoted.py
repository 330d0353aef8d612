"""Quoted text in a question: the passages that hold it verbatim come first.

A person who quotes an error message, a heading or a term ("报错“invalid dictionary entry in ... at
Line ...”", `Command._main_shell_completion`, “台中”) wants the place that says exactly that, the
convention of every search box. Ranked search scores the quote's words one by one, so a page that
uses them all in another order can outrank the line that prints them; this module measures how
much of the quoted text a passage holds as written.

A quote is text between “ ” 「 」 『 』 " " or backticks, or ' ' standing apart from words (so the
apostrophe of "don't" opens nothing). An ellipsis inside a quote (... … 。。。) stands for
what the asker left out: the parts on either side are looked for separately.
"""

from __future__ import annotations

import re

_QUOTED = re.compile(r"“([^“”]+)”|「([^「」]+)」|『([^『』]+)』|\"([^\"]+)\"|`([^`]+)`|(?<![\w'])'([^'\n]+)'(?![\w'])")
_ELLIPSIS = re.compile(r"\.{3,}|…+|。{3,}")
_SPACE = re.compile(r"\s+")
MIN_FRAGMENT_CHARS = 2


def _normalised(text: str) -> str:
    return _SPACE.sub(" ", text).strip().lower()


def quoted_fragments(question: str) -> list[str]:
    """The quoted parts of ``question`` (lower-cased, spaces collapsed, split at ellipses), in order."""
    fragments: list[str] = []
    for match in _QUOTED.finditer(question):
        quote = next(group for group in match.groups() if group is not None)
        fragments += [f for f in map(_normalised, _ELLIPSIS.split(quote)) if len(f) >= MIN_FRAGMENT_CHARS]
    return list(dict.fromkeys(fragments))


def quoted_share(fragments: list[str], text: str) -> float:
    """The share of the fragments' characters that ``text`` holds verbatim (0..1; 0 without fragments)."""
    total = sum(len(f) for f in fragments)
    if not total:
        return 0.0
    haystack = _normalised(text)
    return sum(len(f) for f in fragments if f in haystack) / total
