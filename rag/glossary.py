"""Chinese questions about English code: the programming words a question's Chinese terms stand for.

Keyword search compares words, and code is written in English: "从词典里删掉一个词" shares no term
with ``def del_word(self, word)``. Each Chinese programming term of the question is also searched
as the English words code uses for it (删除 -> del, delete, remove; 缓存 -> cache): by keyword
search, where identifier terms (ingest/keywords.py) split ``del_word`` into ``del`` and ``word`` so
the two meet, and by dense search of code (``code_query``). The list (glossary.txt, about 470
concepts) is general programming vocabulary, not tuned to any project.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from ingest.keywords import ASCII_RUN, CJK_CHAR, keyword_tokens

_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")  # as ingest.keywords.CJK_CHAR

GLOSSARY_FILE = Path(__file__).with_name("glossary.txt")


@cache
def _table() -> dict[str, tuple[str, ...]]:
    table: dict[str, tuple[str, ...]] = {}
    for line in GLOSSARY_FILE.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        chinese, english = line.split(":")
        for word in chinese.split():
            table[word] = tuple(english.split())
    return table


@cache
def _longest_term() -> int:
    return max(map(len, _table()))


def _terms_in(question: str) -> list[str]:
    """The glossary's Chinese terms in ``question``: first, in order, each term of two characters or
    more wherever its characters occur (the longest at each place), since jieba may cut it apart
    (停用词 -> 停 / 用词, 弃用 -> 为弃 / 用); then single characters, only as words of their own (锁, 表)."""
    table, longest = _table(), _longest_term()
    found: list[str] = []
    for run in _CJK_RUN.findall(question):
        start = 0
        while start < len(run) - 1:
            ends = range(min(len(run), start + longest), start + 1, -1)
            term = next((run[start:end] for end in ends if run[start:end] in table), None)
            found += [term] if term else []
            start += len(term) if term else 1
    return found + [token for token in keyword_tokens(question) if len(token) == 1 and token in table]


def code_words(question: str) -> list[str]:
    """The English programming words the question's Chinese terms stand for, in order, once each."""
    table = _table()
    return list(dict.fromkeys(e for term in _terms_in(question) for e in table[term]))


def code_query(question: str) -> str | None:
    """A Chinese question as code words it: the identifiers and English words it holds, as written,
    then the English programming words its Chinese terms stand for (``code_words``). The embedder
    matches that to English code far better than the Chinese sentence (bench/report.md, project
    section). None for a question without Chinese, or without any such word: it is searched as asked."""
    if not CJK_CHAR.search(question):
        return None
    words = [*ASCII_RUN.findall(question), *code_words(question)]
    return " ".join(dict.fromkeys(words)) or None
