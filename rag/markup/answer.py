"""An answer and a question as safe HTML: Markdown rendered, citations linked to their sources.

A citation [n] links to source n's card, or, when the citation check (rag.verify) found the span of
source n that supports that sentence, to that span; the citations of a sentence the check found
unsupported are marked, with what was missing as their tooltip.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.markup.render import escape, render_markdown
from rag.prompts import CITATION
from rag.types import Verdict

_NUMBER = re.compile(r"\d{1,3}")


@dataclass(frozen=True)
class Link:
    """Where one citation marker points, and how it looks."""

    target: str  # an element id on the page
    supported: bool | None = None  # the citation check's verdict on the sentence it ends
    note: str = ""  # tooltip: what was not found


Anchor = Callable[[int], Link | str | None]
"""anchor(n) -> the link of the next [n] in the text (a bare id, or None: no such source)."""


def source_anchor(turn: int, number: int) -> str:
    """The HTML id of source ``number``'s card under answer ``turn`` (unique on the page)."""
    return f"kba-t{turn}-s{number}"


def evidence_anchor(turn: int, number: int, sentence: int) -> str:
    """The HTML id of the span of source ``number`` that supports sentence ``sentence``."""
    return f"kba-t{turn}-s{number}-e{sentence}"


class CitationLinks:
    """The links of an answer's citations, in the order they appear, from its sources and verdicts."""

    def __init__(self, turn: int, numbers: Sequence[int], verdicts: Sequence[Verdict]) -> None:
        self.turn, self.numbers = turn, set(numbers)
        self._queued: dict[int, deque[Link]] = {}
        for index, verdict in enumerate(verdicts):
            note = "; ".join(verdict.missing)
            for number in verdict.cited:
                evidence = verdict.evidence
                on_span = evidence is not None and evidence[0] == number and verdict.supported
                target = evidence_anchor(turn, number, index) if on_span else source_anchor(turn, number)
                self._queued.setdefault(number, deque()).append(Link(target, verdict.supported, note))

    def __call__(self, number: int) -> Link | None:
        if number not in self.numbers:
            return None
        queued = self._queued.get(number)
        return queued.popleft() if queued else Link(source_anchor(self.turn, number))


def _link(match: re.Match[str], anchor: Anchor) -> str:
    links = []
    for number in (int(n) for n in _NUMBER.findall(match.group(1))):
        link = anchor(number)
        if isinstance(link, str):
            link = Link(link)
        if link is None:
            links.append(f'<span class="kba-cite-missing">&#91;{number}&#93;</span>')
            continue
        css = {True: "kba-ok", False: "kba-unsupported"}.get(link.supported, "kba-unchecked")  # type: ignore[arg-type]
        title = f' title="{escape(link.note)}"' if link.note else ""
        links.append(f'<a class="{css}" href="#{escape(link.target)}"{title}>&#91;{number}&#93;</a>')
    return f'<sup class="kba-cite">{"".join(links)}</sup>'


def _citations_linked(anchor: Anchor) -> Callable[[str], str]:
    def decorate(text: str) -> str:
        out: list[str] = []
        position = 0
        for match in CITATION.finditer(text):
            out.append(escape(text[position : match.start()]))
            out.append(_link(match, anchor))
            position = match.end()
        out.append(escape(text[position:]))
        return "".join(out)

    return decorate


def link_citations(text: str, anchor: Anchor = lambda _n: None) -> str:
    """An answer as safe HTML: its Markdown rendered, citations turned into superscript links
    (``anchor``, see Anchor; a number with no source is shown but not linked). Code spans and
    blocks are shown as written, their brackets never linked."""
    return f'<div class="kba-answer">{render_markdown(text, _citations_linked(anchor))}</div>'


def question_html(question: str) -> str:
    """A question as safe HTML (its Markdown rendered; nothing it holds becomes markup)."""
    return f'<div class="kba-question">{render_markdown(question)}</div>'


def unsupported_html(verdicts: Sequence[Verdict]) -> str:
    """The sentences the citation check did not find supported, each with what was missing where."""
    items = []
    for verdict in verdicts:
        if verdict.supported is False:
            missing = "; ".join(verdict.missing) or "未找到支持的原文 / no supporting passage"
            items.append(f"<li>{escape(verdict.sentence)} <span class='kba-missing'>— {escape(missing)}</span></li>")
    if not items:
        return ""
    title = '<div class="kba-unsupported-title">未找到出处支持的句子 / Sentences the sources do not support</div>'
    return f'<div class="kba-unsupported-list">{title}<ul>{"".join(items)}</ul></div>'
