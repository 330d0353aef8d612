"""A source as an HTML card: where it is, how relevant, and its text rendered as what it is.

Code and config show with syntax colours and line numbers that start at the chunk's first line
(Pygments, which escapes everything it is given); Markdown documents, slides and sheet rows are
rendered as Markdown; everything else is plain text. The question's terms are highlighted, and
so are the spans the citation check found to support a sentence, each with its own id so that
the sentence's [n] scrolls to it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import PurePath

from ingest.keywords import keyword_tokens
from ingest.types import StoredChunk
from rag.markup.answer import evidence_anchor
from rag.markup.render import MARKS, escape, one_block, render_markdown
from rag.types import Answer, Citation

Span = tuple[int, int, str]  # (start, end, element id) of an evidence span in a source's text
_MARKDOWN_DOCS = {".md", ".markdown"}
_OPEN, _CLOSE = MARKS  # where an evidence span starts and ends, until rendered


def question_terms(question: str) -> list[str]:
    """The question's search terms worth highlighting (single characters only when nothing longer)."""
    terms = list(dict.fromkeys(keyword_tokens(question)))
    longer = [t for t in terms if len(t) >= 2]
    return longer or terms


def highlight_spans(text: str, terms: Iterable[str]) -> list[tuple[int, int]]:
    """(start, end) spans of ``text`` matching any term, case-insensitive, merged, in order."""
    ordered = sorted({t for t in terms if t}, key=len, reverse=True)
    if not ordered:
        return []
    pattern = re.compile("|".join(re.escape(t) for t in ordered), re.IGNORECASE)
    spans: list[tuple[int, int]] = []
    for match in pattern.finditer(text):
        start, end = match.span()
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    return spans


def _marked(text: str, terms: Sequence[str]) -> str:
    out: list[str] = []
    position = 0
    for start, end in highlight_spans(text, terms):
        out.append(escape(text[position:start]))
        out.append(f"<mark>{escape(text[start:end])}</mark>")
        position = end
    out.append(escape(text[position:]))
    return "".join(out)


def highlight_html(text: str, terms: Iterable[str]) -> str:
    """``text`` as escaped HTML on one line, matches wrapped in <mark>, line breaks as <br>."""
    return one_block(_marked(text, list(terms)).replace("\n", "<br>"))


def _with_sentinels(text: str, evidence: Sequence[Span]) -> tuple[str, list[str]]:
    """``text`` with each evidence span wrapped in sentinels (overlaps merged), and their ids."""
    merged: list[list] = []
    for start, end, anchor in sorted(evidence):
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
            merged[-1][2].append(anchor)
        else:
            merged.append([start, end, [anchor]])
    out, ids, position = [], [], 0
    for start, end, anchors in merged:
        out += [text[position:start], _OPEN, text[start:end], _CLOSE]
        ids.append(anchors)
        position = end
    out.append(text[position:])
    return "".join(out), ids


class _Evidence:
    """Turns sentinels into <span class="kba-evidence"> elements as text tokens are decorated;
    a span that crosses tokens is closed and reopened, its ids on its first part only."""

    def __init__(self, ids: list[list[str]], terms: Sequence[str]) -> None:
        self.ids, self.terms, self.open, self.count = ids, terms, False, 0

    def _start(self) -> str:
        anchors = self.ids[self.count] if self.count < len(self.ids) else []
        self.count += 1
        marks = "".join(f'<span id="{escape(a)}"></span>' for a in anchors[1:])
        first = f' id="{escape(anchors[0])}"' if anchors else ""
        return f'<span class="kba-evidence"{first}>{marks}'

    def __call__(self, text: str) -> str:
        out = ['<span class="kba-evidence">'] if self.open else []
        for piece in re.split(f"([{_OPEN}{_CLOSE}])", text):
            if piece == _OPEN:
                out.append(self._start())
                self.open = True
            elif piece == _CLOSE:
                out.append("</span>")
                self.open = False
            else:
                out.append(_marked(piece, self.terms))
        if self.open:
            out.append("</span>")
        return "".join(out)


@cache
def _styles() -> dict[object, str]:
    """Pygments' default colours as inline CSS per token type (the page styles nothing else)."""
    from pygments.styles import get_style_by_name

    styles: dict[object, str] = {}
    for token, style in get_style_by_name("default"):
        css = [f"color: #{style['color']}" if style["color"] else ""]
        css += ["font-weight: bold" if style["bold"] else "", "font-style: italic" if style["italic"] else ""]
        styles[token] = "; ".join(c for c in css if c)
    return styles


def _coloured_lines(text: str, file_name: str) -> list[str]:
    """The lines of ``text`` as HTML, each token escaped inside a span coloured by its type."""
    from pygments import lex
    from pygments.lexers import TextLexer, get_lexer_for_filename
    from pygments.util import ClassNotFound

    try:
        lexer = get_lexer_for_filename(file_name, stripnl=False, ensurenl=False)
    except ClassNotFound:
        lexer = TextLexer(stripnl=False, ensurenl=False)
    styles, lines, current = _styles(), [], []
    for token, value in lex(text, lexer):
        for n, piece in enumerate(value.split("\n")):
            if n:
                lines.append("".join(current))
                current = []
            if piece:
                style = styles.get(token, "")
                current.append(f'<span style="{style}">{escape(piece)}</span>' if style else escape(piece))
    lines.append("".join(current))
    return lines[: text.count("\n") + 1]


def code_html(chunk: StoredChunk, evidence: Sequence[Span] = ()) -> str:
    """A code or config chunk with syntax colours and its file's line numbers; the evidence lines
    marked. Plain <div>s, no <pre> or <code>: Streamlit renders those as its own code blocks, which
    take text, not markup."""
    first = chunk.lines[0] if chunk.lines else 1
    marked = {
        chunk.text.count("\n", 0, start) + k
        for start, end, _ in evidence
        for k in range(chunk.text.count("\n", start, end) + 1)
    }
    anchors = "".join(f'<span id="{escape(a)}"></span>' for _, _, a in evidence)
    rows = [
        f'<div class="kba-line{" kba-evidence-line" if n in marked else ""}"><span class="kba-ln">{first + n}</span>'
        f'<span class="kba-src">{line or " "}</span></div>'
        for n, line in enumerate(_coloured_lines(chunk.text, PurePath(chunk.doc_name).name))
    ]
    return f'<div class="kba-code">{anchors}{"".join(rows)}</div>'


def body_html(chunk: StoredChunk, terms: Sequence[str], evidence: Sequence[Span] = ()) -> str:
    """A chunk's text as HTML, rendered as what it is (see the module docstring)."""
    if chunk.kind in {"code", "config"}:
        return code_html(chunk, evidence)
    text, ids = _with_sentinels(chunk.text, evidence)
    decorate = _Evidence(ids, terms)
    if PurePath(chunk.doc_name).suffix.lower() in _MARKDOWN_DOCS or chunk.kind in {"table", "slides"}:
        return f'<div class="kba-text kba-md">{render_markdown(text, decorate)}</div>'
    lines = [decorate(line) for line in text.split("\n")]  # the decorator keeps spans across lines open
    return f'<div class="kba-text">{one_block("<br>".join(lines))}</div>'


def ordered_sources(answer: Answer) -> list[tuple[Citation, bool]]:
    """Every source of the answer with whether it is cited: cited ones first, in citation order."""
    cited_numbers = [c.number for c in answer.cited]
    rest = [c for c in answer.sources if c.number not in cited_numbers]
    return [(c, True) for c in answer.cited] + [(c, False) for c in rest]


def evidence_spans(answer: Answer, turn: int) -> dict[int, list[Span]]:
    """Source number -> the spans of it that support a sentence, with the id each sentence links to."""
    spans: dict[int, list[Span]] = {}
    for index, verdict in enumerate(answer.verdicts):
        if verdict.supported and verdict.evidence is not None:
            number, start, end = verdict.evidence
            spans.setdefault(number, []).append((start, end, evidence_anchor(turn, number, index)))
    return spans


def source_card_html(
    citation: Citation, cited: bool, terms: Sequence[str], anchor_id: str, evidence: Sequence[Span] = ()
) -> str:
    """One source as an HTML card: [n], file, lines or page or section, kind, score, its text.

    Cited sources are open cards; the others are collapsed and greyed (a <details> element).
    """
    chunk = citation.chunk
    where = chunk.location.removeprefix(chunk.doc_name).lstrip(":, ·")
    if chunk.lines:  # "120-158 · main › f" reads better as "lines 120-158 · main › f"
        where = f"{'行 line' if chunk.lines[0] == chunk.lines[1] else '行 lines'} {where}"
    badges = "".join(
        f'<span class="kba-badge">{label}</span>'
        for label, shown in (("OCR", chunk.ocr), (chunk.kind, chunk.kind not in {"doc"}))
        if shown
    )
    head = (
        f'<span class="kba-num">[{citation.number}]</span> '
        f'<span class="kba-file">{escape(chunk.doc_name)}</span>'
        + (f' <span class="kba-where">· {escape(where)}</span>' if where else "")
        + badges
        + f' <span class="kba-score">相关度 score {citation.score:.2f}</span>'
    )
    body = body_html(chunk, terms, evidence)
    if cited:
        return f'<div class="kba-source kba-cited" id="{anchor_id}"><div class="kba-head">{head}</div>{body}</div>'
    return (
        f'<details class="kba-source kba-uncited" id="{anchor_id}"><summary class="kba-head">{head}</summary>'
        f"{body}</details>"
    )
