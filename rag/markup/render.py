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


def render_markdown(text: str, decorate: Decorate = escape) -> str:
    """``text`` rendered as Markdown, every text token passed through ``decorate``."""
    tokens = _MARKDOWN.parse(text)
    for token in tokens:
        for child in token.children or ():
            if child.type == "text":
                child.type, child.content = "html_inline", decorate(child.content)
    return one_block(_MARKDOWN.renderer.render(tokens, _MARKDOWN.options, {}))
