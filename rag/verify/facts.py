"""The checkable facts of a claim: numbers, names and identifiers, quoted words.

A fact that none of the cited sources contains is the strongest sign that the sentence says more
than they do: a changed number, a swapped name, a title nobody wrote. Names are Latin words in a
Chinese sentence (LLM, Kubernetes, os.kill), and in an English one the words a writer capitalises
inside a sentence, spells with digits or mixed case (LaMDA, GPT-4), or puts in quotes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from rag.verify.numbers import numbers
from rag.verify.text import ENGLISH_STOPWORDS, UnitIndex, is_cjk, normalise, stem

IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[._\-+/][A-Za-z0-9]+)+(?:\(\))?|[A-Za-z][A-Za-z0-9]*")
# "LLMs", "CNNs": the plural of an acronym is found where the acronym is.
_ACRONYM_PLURAL = re.compile(r"[a-z0-9]{2,}s")
QUOTED = re.compile(r"[“\"「『《]([^”\"」』》]{2,40})[”\"」』》]")
# Words an English sentence capitalises without naming anything.
_COMMON_CAPITALISED = frozenset(
    "i it this that these those the a an in on for as according since like chinese english western eastern "
    "american european british japanese".split()
)


@dataclass(frozen=True)
class Fact:
    """One checkable token of a claim: ``written`` as in the sentence, ``key`` as looked up."""

    written: str
    key: str
    kind: str  # "number", "name" or "quote"


def _is_english_name(word: str, at_start: bool) -> bool:
    if any(ch.isdigit() for ch in word) or re.search(r"[._+]", word):
        return True
    if "-" in word:  # GPT-4 and Sequence-to-Sequence are names, pre-training and one-off are not
        return any(ch.isupper() for ch in word)
    if len(word) > 1 and word.isupper():
        return True
    if any(ch.isupper() for ch in word[1:]):  # LaMDA, InstructGPT
        return True
    return word[:1].isupper() and not at_start and word.lower() not in _COMMON_CAPITALISED


def claim_facts(claim: str, same_language: bool) -> list[Fact]:
    """The facts of ``claim`` (markers already removed), each once. Quotes count only when the
    claim is in the sources' language (a translated quote cannot be found verbatim)."""
    norm = normalise(claim)
    found: dict[tuple[str, str], Fact] = {}
    for value, written in numbers(norm):
        found.setdefault(("number", value), Fact(written, value, "number"))
    chinese = is_cjk(claim)
    words = [(m.start(), part) for m in IDENTIFIER.finditer(claim) for part in m.group().split("/")]
    for start, word in words:
        lowered = normalise(word).removesuffix("()")
        if lowered in ENGLISH_STOPWORDS or len(lowered) < 2 or lowered.isdigit():
            continue
        at_start = not claim[:start].strip(" \"'“(")
        if chinese or _is_english_name(word, at_start):
            found.setdefault(("name", lowered), Fact(word, lowered, "name"))
    if same_language:
        for match in QUOTED.finditer(claim):
            inner = normalise(match.group(1)).strip()
            found.setdefault(("quote", inner), Fact(match.group(0), inner, "quote"))
    return list(found.values())


@lru_cache(maxsize=4096)
def _whole_word(key: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![a-z0-9]){re.escape(key)}(?![a-z0-9])")


def _has_word(norm: str, key: str) -> bool:
    return key in norm and _whole_word(key).search(norm) is not None


def fact_found(fact: Fact, index: UnitIndex) -> bool:
    """Whether ``index`` (one source or several) contains the fact."""
    if fact.kind == "number":
        return "#" + fact.key in index.units
    if fact.kind == "quote":
        return re.sub(r"\s+", "", fact.key) in re.sub(r"\s+", "", index.norm)
    if re.fullmatch(r"[a-z][a-z0-9']*", fact.key):  # one word: compare stems, so tokens = token
        if stem(fact.key) in index.units or _has_word(index.norm, fact.key):
            return True
        plural = fact.written.isupper() or fact.written[:-1].isupper()
        return plural and _ACRONYM_PLURAL.fullmatch(fact.key) is not None and _has_word(index.norm, fact.key[:-1])
    return _has_word(index.norm, fact.key)
