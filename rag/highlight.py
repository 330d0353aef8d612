"""HTML-safe markup for answers and their sources: linked citations, highlighted question terms.

Everything a model or a document wrote is escaped before it reaches the page; the only markup in
the output is the markup made here. The browser page renders these strings with
``unsafe_allow_html``, so this module is the one place that decides what HTML appears.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Sequence

from markdown_it import MarkdownIt

from ingest.keywords import keyword_tokens
from rag.prompts import CITATION
from rag.types import Answer, Citation

# The citation forms the chain recognises (rag.chain.cited_numbers): [1], [1, 2], [1、2], 【4】.
_NUMBER = re.compile(r"\d{1,3}")
# Markdown for answers and questions: CommonMark with tables, and without everything that could
# fetch, link, run or hide something: raw HTML is text, links, images and link definitions are
# text, entities are shown as written (so "&lt;" in a document is never a "<" for the page).
_MARKDOWN = (
    MarkdownIt("commonmark", {"html": False})
    .enable(["table", "strikethrough"])
    .disable(["image", "link", "autolink", "entity", "reference"])
)

Anchor = Callable[[int], str | None]


def source_anchor(turn: int, number: int) -> str:
    """The HTML id of source ``number`` under answer ``turn`` (unique on the page)."""
    return f"kba-t{turn}-s{number}"


def _link(match: re.Match[str], anchor: Anchor) -> str:
    links = []
    for number in (int(n) for n in _NUMBER.findall(match.group(1))):
        target = anchor(number)
        if target is None:
            links.append(f'<span class="kba-cite-missing">&#91;{number}&#93;</span>')
        else:
            links.append(f'<a href="#{target}">&#91;{number}&#93;</a>')
    return f'<sup class="kba-cite">{"".join(links)}</sup>'


def _text_with_links(text: str, anchor: Anchor | None) -> str:
    if anchor is None:
        return html.escape(text)
    out: list[str] = []
    position = 0
    for match in CITATION.finditer(text):
        out.append(html.escape(text[position : match.start()]))
        out.append(_link(match, anchor))
        position = match.end()
    out.append(html.escape(text[position:]))
    return "".join(out)


def _markdown_html(text: str, anchor: Anchor | None, css_class: str) -> str:
    """Markdown rendered to HTML by the one renderer allowed to make markup: every character of
    ``text`` is escaped, citations outside code become links (when ``anchor`` is given).

    One line inside one <div>: the page renders it with Streamlit's Markdown, which must see a
    single raw-HTML block (a blank line would end it and hand the rest back to Markdown), so
    line breaks are character references; ``$`` is one too, so nothing is ever typeset as math.
    """
    tokens = _MARKDOWN.parse(text)
    for token in tokens:
        for child in token.children or ():
            if child.type == "text":
                child.type, child.content = "html_inline", _text_with_links(child.content, anchor)
    body = _MARKDOWN.renderer.render(tokens, _MARKDOWN.options, {})
    body = body.strip("\n").replace("\n", "&#10;").replace("$", "&#36;")
    return f'<div class="{css_class}">{body}</div>'


def link_citations(text: str, anchor: Anchor = lambda _n: None) -> str:
    """An answer as safe HTML: its Markdown rendered, citations turned into superscript links.

    ``anchor(n)`` gives the id of source ``n``'s card, or None when there is no such source (the
    number is then shown but not linked). Code spans and blocks are shown as written.
    """
    return _markdown_html(text, anchor, "kba-answer")


def question_html(question: str) -> str:
    """A question as safe HTML (its Markdown rendered; nothing it holds becomes markup)."""
    return _markdown_html(question, None, "kba-question")


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


def highlight_html(text: str, terms: Iterable[str]) -> str:
    """``text`` as escaped HTML on one line, matches wrapped in <mark>, line breaks as <br>."""
    out: list[str] = []
    position = 0
    for start, end in highlight_spans(text, terms):
        out.append(html.escape(text[position:start]))
        out.append(f"<mark>{html.escape(text[start:end])}</mark>")
        position = end
    out.append(html.escape(text[position:]))
    # One line: a blank line would end the raw-HTML block and hand the rest to Markdown.
    return "".join(out).replace("$", "&#36;").replace("\n", "<br>")


def ordered_sources(answer: Answer) -> list[tuple[Citation, bool]]:
    """Every source of the answer with whether it is cited: cited ones first, in citation order."""
    cited_numbers = [c.number for c in answer.cited]
    rest = [c for c in answer.sources if c.number not in cited_numbers]
    return [(c, True) for c in answer.cited] + [(c, False) for c in rest]


def source_card_html(citation: Citation, cited: bool, terms: Sequence[str], anchor_id: str) -> str:
    """One source as an HTML card: [n], file name, page/section, score, highlighted chunk text.

    Cited sources are open cards; the others are collapsed and greyed (a <details> element).
    """
    chunk = citation.chunk
    where = chunk.location.removeprefix(chunk.doc_name).lstrip(", ")
    head = (
        f'<span class="kba-num">[{citation.number}]</span> '
        f'<span class="kba-file">{html.escape(chunk.doc_name)}</span>'
        + (f' <span class="kba-where">· {html.escape(where)}</span>' if where else "")
        + f' <span class="kba-score">相关度 score {citation.score:.2f}</span>'
    )
    body = f'<div class="kba-text">{highlight_html(chunk.text, terms)}</div>'
    if cited:
        return f'<div class="kba-source kba-cited" id="{anchor_id}"><div class="kba-head">{head}</div>{body}</div>'
    return (
        f'<details class="kba-source kba-uncited" id="{anchor_id}"><summary class="kba-head">{head}</summary>'
        f"{body}</details>"
    )


# --- Markdown documents (the conversation export) ---

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
