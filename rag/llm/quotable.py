"""The sentences of the sources an extractive answer may quote.

A question is never an answer: a FAQ's "问：…" / "Q:" line, or any sentence ending in ？/?, is left
out, and the sentence that follows it in the same source (a FAQ's "答：…", the next sentence of
prose) is matched with the question's words as well as its own, since that is what it answers.
A source's first line that is short and has no sentence end is its heading: left out too.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# A source's first line this narrow, without a sentence end, is its section heading: never quoted.
# Measured in columns, a Chinese character taking two: 20 Chinese characters or 40 Latin ones
# ("Shell Variable Expansion On Windows" is as much a heading as "常见问题与解答").
HEADING_COLUMNS = 40

# Sentence ends: Chinese and ASCII terminators (with the closing quote or bracket right after one),
# line breaks, and an English period before a space.
_CLOSERS = "”’」』）)\"'"
_SENTENCE_END = re.compile(rf"(?<=[。！？；!?])(?![{_CLOSERS}])|(?<=[。！？；!?][{_CLOSERS}])|\n+|(?<=\.)\s+")
_WORD = re.compile(r"\w")
_QUESTION_LABEL = re.compile(r"^\s*(?:问|提问|Q|Question)\s*\d*\s*[：:．.]", re.IGNORECASE)
_LIST_MARK = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.、)])\s+")  # "- ", "* ", "2. ", "3、": the source's markup
_ANSWER_LABEL = re.compile(r"^\s*(?:答|回答|A|Answer)\s*\d*\s*[：:．.]\s*", re.IGNORECASE)
_QUESTION_END = re.compile(r"[？?][\s”’」』）)\"'*]*$")


@dataclass(frozen=True)
class Quotable:
    """A sentence that may be quoted: ``text`` as it will be quoted (a leading "答：" dropped), from
    source ``number`` at sentence ``position``; ``question`` is the question line right before it."""

    number: int
    position: int
    text: str
    question: str = ""

    @property
    def match_text(self) -> str:
        """What the sentence is matched on: the question it answers, then itself."""
        return f"{self.question} {self.text}" if self.question else self.text


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` split at 。！？；!? (a closing quote after one stays with it), line breaks
    and ". "; pieces without a letter, digit or character (a stray bullet or quote) dropped."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and _WORD.search(s)]


def _columns(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def is_heading(line: str) -> bool:
    """A short line without a sentence end (only meaningful for a source's first line)."""
    return _columns(line) <= HEADING_COLUMNS and line[-1:] not in "。！？；.!?:：" and "\n" not in line


def is_question(sentence: str) -> bool:
    """A FAQ question line ("问：…", "Q: …") or a sentence ending in a question mark."""
    return bool(_QUESTION_LABEL.match(sentence) or _QUESTION_END.search(sentence))


def quotable_sentences(sources: dict[int, str]) -> list[Quotable]:
    """Every sentence of ``sources`` (in source order, then reading order) that may be quoted."""
    found: list[Quotable] = []
    for number in sorted(sources):
        asked = ""
        for position, sentence in enumerate(split_sentences(sources[number])):
            if position == 0 and is_heading(sentence):
                continue
            if is_question(sentence):
                asked = sentence
                continue
            text = _LIST_MARK.sub("", sentence, count=1)
            text = _ANSWER_LABEL.sub("", text, count=1).strip() if asked else text
            if text:  # a bare "答：" line keeps the question for the line after it
                found.append(Quotable(number, position, text, asked))
                asked = ""
    return found
