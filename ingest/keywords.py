"""Words for the keyword index: jieba for Chinese, lower-cased words for the rest.

The same function tokenises chunks when they are indexed and questions when they are asked, so
BM25 (SQLite FTS5) compares like with like.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from functools import cache

_WORDLIKE = re.compile(r"[\w\u4e00-\u9fff]")

# Function words and question words: frequent in questions, useless as search terms.
STOPWORDS = frozenset(
    "的 了 是 在 和 与 及 或 也 都 就 而 被 把 对 于 为 以 之 其 这 那 这个 那个 这些 那些 一个 "
    "有 没有 我 你 他 她 它 我们 你们 他们 什么 哪 哪个 哪些 哪里 哪种 如何 怎么 怎样 怎么样 为什么 多少 "
    "多大 几 吗 呢 吧 啊 呀 请问 能 能否 可以 会 要 需要 才 还 又 等 中 上 下 "
    "a an the of to in on for and or is are was were be been by with as at from that this "
    "what which who how why when where does do did can could should would it its".split()
)


@cache
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


def keyword_tokens(text: str) -> list[str]:
    """Search terms of ``text``: jieba's search-mode words, lower-cased, without stopwords."""
    words = _jieba().lcut_for_search(text.lower())
    return [w for w in (w.strip() for w in words) if w and _WORDLIKE.search(w) and w not in STOPWORDS]


def fts_document(text: str) -> str:
    """The string stored in the FTS5 column: terms separated by spaces."""
    return " ".join(keyword_tokens(text))


def fts_query(terms: Iterable[str]) -> str:
    """An FTS5 MATCH expression that ORs the distinct ``terms`` (empty if there are none)."""
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in dict.fromkeys(terms))
