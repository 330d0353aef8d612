"""The one Markdown renderer allowed to make the page's HTML, and escaping of plain text.

CommonMark with tables, and without everything that could fetch, link, run or hide something:
raw HTML is text, links, images and link definitions are text, entities are shown as written (so
"&lt;" in a document is never a "<" for the page). Every text token is escaped, then handed to a
decorator that may add markup made here (citation links, highlighted terms, evidence marks).
"""

from __future__ import annotations

import html
from collections.abc import Callable

from markdown_it import MarkdownIt

_MARKDOWN = (
    MarkdownIt("commonmark", {"html": False})
    .enable(["table", "strikethrough"])
    .disable(["image", "link", "autolink", "entity", "reference"])
)

MARKS = ("\ue000", "\ue001")  # private-use sentinels callers may put into text: never left in code
Decorate = Callable[[str], str]
"""A text token (raw) -> its HTML: escaped, with only markup made by this package added."""


def escape(text: str) -> str:
    """Plain text as HTML text (quotes too: the result may stand in an attribute)."""
    return html.escape(text)


def one_block(body: str) -> str:
    """HTML as one line: the page renders it with Streamlit's Markdown, which must see a single
    raw-HTML block (a blank line would end it and hand the rest back to Markdown), so line breaks
    become character references; ``$`` does too, so nothing is ever typeset as math."""
    return body.strip("\n").replace("\n", "&#10;").replace("$", "&#36;")


def _unmarked(text: str) -> str:
    return text.replace(MARKS[0], "").replace(MARKS[1], "")


def render_markdown(text: str, decorate: Decorate = escape) -> str:
    """``text`` rendered as Markdown, every text token passed through ``decorate``."""
    tokens = _MARKDOWN.parse(text)
    for token in tokens:
        if token.type in {"fence", "code_block"}:
            token.content = _unmarked(token.content)
        for child in token.children or ():
            if child.type == "text":
                child.type, child.content = "html_inline", decorate(child.content)
            elif child.type == "code_inline":
                child.content = _unmarked(child.content)
    return one_block(_MARKDOWN.renderer.render(tokens, _MARKDOWN.options, {}))
