"""Chinese questions about English code: the programming words a question's Chinese terms stand for.

Keyword search compares words, and code is written in English: "从词典里删掉一个词" shares no term
with ``def del_word(self, word)``. Each Chinese programming term of the question is also searched
as the English words code uses for it (删除 -> del, delete, remove; 缓存 -> cache): by keyword
search, where identifier terms (ingest/keywords.py) split ``del_word`` into ``del`` and ``word`` so
the two meet, and by dense search of code (``code_query``). The list (glossary.txt, about 470
concepts) is general programming vocabulary, not tuned to any project.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from ingest.keywords import ASCII_RUN, CJK_CHAR, keyword_tokens

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


def code_words(question: str) -> list[str]:
    """The English programming words the question's Chinese terms stand for, in order, once each."""
    table = _table()
    found = [e for term in keyword_tokens(question) for e in table.get(term, ())]
    return list(dict.fromkeys(found))


def code_query(question: str) -> str | None:
    """A Chinese question as code words it: the identifiers and English words it holds, as written,
    then the English programming words its Chinese terms stand for (``code_words``). The embedder
    matches that to English code far better than the Chinese sentence (bench/report.md, project
    section). None for a question without Chinese, or without any such word: it is searched as asked."""
    if not CJK_CHAR.search(question):
        return None
    words = [*ASCII_RUN.findall(question), *code_words(question)]
    return " ".join(dict.fromkeys(words)) or None
