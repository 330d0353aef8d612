"""Words for the keyword index: jieba for Chinese, identifiers whole and in parts for the rest.

The same function tokenises passages when they are indexed and questions when they are asked, so
BM25 (SQLite FTS5) compares like with like. A run of ASCII letters, digits and joiners is one
term as written (lower-cased: ``load_model_on_gpus``, ``os.kill``, ``httpx_log_level``,
``maxuploadsize``, ``pre_seq_len`` from ``--pre_seq_len``, ``1.2.3``) plus, when it is compound,
each of its parts (``load``, ``model``, ``gpus``; ``max``, ``upload``, ``size``), so a question finds
an identifier by its exact name and by its words, inside a Chinese sentence too. Everything
else goes to jieba's search mode.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from functools import cache

_WORDLIKE = re.compile(r"[^\W_]")
# A Chinese character (CJK Unified Ideographs and Extension A): what tells Chinese text from the rest.
CJK_CHAR = re.compile(r"[\u3400-\u9fff]")
# An identifier-like run: starts and ends with a letter/digit/_/$, may hold . : - inside (a.b, a::b, a-b).
ASCII_RUN = re.compile(r"[A-Za-z0-9_$](?:[A-Za-z0-9_$.:\-]*[A-Za-z0-9_$])?")
_SEGMENTS = re.compile(r"(?<![0-9])\.|\.(?![0-9])|[:$]+")  # a.b, a::b; not the dot of 3.5
_JOINERS = re.compile(r"[_\-]+")  # snake_case, kebab-case
_NUMBER = re.compile(r"v?[0-9]+(?:\.[0-9]+)*")  # 3.5, v1.2.3: one term, never split at its dots
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")

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


def identifier_terms(run: str) -> list[str]:
    """The terms of one ASCII run: itself (lower-cased, outer joiners stripped), then its parts:
    its segments between dots or ``::`` (kept whole: ``enable_parallel`` of ``jieba.enable_parallel``),
    their pieces between ``_`` and ``-``, and the words of each camelCase piece. Numbers and
    versions (3.5, v1.2.3) are never split."""
    run = run.strip("._:-$")
    whole = run.lower()
    if not whole or _NUMBER.fullmatch(whole):
        return [whole] if whole else []
    segments = [s for s in _SEGMENTS.split(run) if s]
    pieces = [p for s in segments for p in _JOINERS.split(s) if p]
    words = [w for p in pieces if not _NUMBER.fullmatch(p) for w in _CAMEL.findall(p)]
    parts = (p.lower() for p in [*segments, *pieces, *words])
    return [whole, *dict.fromkeys(p for p in parts if p != whole and len(p) > 1)]


def keyword_tokens(text: str) -> list[str]:
    """Search terms of ``text``: identifiers whole and in parts, jieba's search-mode words for the
    rest, lower-cased, without stopwords."""
    terms: list[str] = []
    position = 0
    for match in ASCII_RUN.finditer(text):
        if match.start() > position:
            terms += _jieba().lcut_for_search(text[position : match.start()].lower())
        terms += identifier_terms(match.group())
        position = match.end()
    if position < len(text):
        terms += _jieba().lcut_for_search(text[position:].lower())
    return [t for t in (t.strip() for t in terms) if t and _WORDLIKE.search(t) and t not in STOPWORDS]


def fts_document(text: str) -> str:
    """The string stored in the FTS5 column: terms separated by spaces."""
    return " ".join(keyword_tokens(text))


def fts_query(terms: Iterable[str]) -> str:
    """An FTS5 MATCH expression that ORs the distinct ``terms`` (empty if there are none)."""
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in dict.fromkeys(terms))
