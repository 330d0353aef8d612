"""The only place that makes markup from what people, documents and models wrote.

Everything a model or a document wrote is escaped before it reaches the page; the only HTML in
the output is made here. The browser page renders these strings with ``unsafe_allow_html``.

    render.py    the one Markdown renderer (raw HTML, links, images, entities off) and escaping
    answer.py    answers and questions, citations linked to their sources or evidence spans
    sources.py   source cards: code with line numbers, Markdown as Markdown, evidence marked
    document.py  Markdown files (the export): formatting kept, nothing active
"""

from rag.markup.answer import (
    CitationLinks,
    Link,
    evidence_anchor,
    link_citations,
    question_html,
    source_anchor,
    unsupported_html,
)
from rag.markup.document import markdown_answer, markdown_inert
from rag.markup.sources import (
    evidence_spans,
    highlight_html,
    highlight_spans,
    ordered_sources,
    question_terms,
    source_card_html,
)

__all__ = [
    "CitationLinks",
    "Link",
    "evidence_anchor",
    "evidence_spans",
    "highlight_html",
    "highlight_spans",
    "link_citations",
    "markdown_answer",
    "markdown_inert",
    "ordered_sources",
    "question_html",
    "question_terms",
    "source_anchor",
    "source_card_html",
    "unsupported_html",
]
