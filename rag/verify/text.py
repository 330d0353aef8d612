"""Text as the checker compares it: normalised characters, comparable units, numbers and clauses.

Everything is compared after NFKC (full-width digits, letters and punctuation become ASCII) and
lower-casing. A text's *units* are what coverage counts: Chinese character bigrams (a lone
character where a run has one), Latin words (lightly stemmed) and numbers (by value, so that
"十二" in a sentence matches "12" in a source).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

from rag.verify.numbers import number_aliases, numbers

CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
LATIN_WORD = re.compile(r"[a-z][a-z0-9]*(?:'[a-z]+)?")
# Clause ends: punctuation, and the contrast words after which a negation no longer applies.
CLAUSE_BREAK = re.compile(
    r"[;:；：、。!?！？()（）\n]|,(?!\d{3}(?!\d))|而是|但是|但|然而|\bbut\b|\brather\b|\binstead\b"
)

ENGLISH_STOPWORDS = frozenset(
    "a an the is are was were be been being am do does did done of to in on at for from by with about as into "
    "onto than then and or if it its this that these those there here which who whom whose what when where how "
    "why can could should would will shall may might must has have had having i you he she we they me my your "
    "our their his her them us so also just very such only both each any all some more most other own same too "
    "while since because though although like per via according says said say".split()
)
# Chinese characters that carry grammar, not content: a bigram made only of them says nothing.
FUNCTION_CHARS = frozenset("的了是在和与及或也就都而被把对从以为于之其这那个一些着地得并且所将向中上下有")

# Who says it: a leading "作者认为，" or "The author notes that" is not part of what must be found.
_WHO = r"(?:作者|笔者|文章|本文|该文|这篇文章|论文|原文|文中|资料|文档|研究者?|研究人员|有人|他们?)"
_SAYS = (
    r"(?:认为|指出|表示|提到|提出|强调|判断|发现|说|估计|觉得|感觉|主张|建议|写道|介绍|预计|预测|猜测|相信|证明|"
    r"总结|描述|解释|坦言|承认|透露|提醒)"
)
_VIEW = r"(?:看法|观点|建议|态度|说法|总结|结论|判断|意思|理解|估计|猜测|预测|感觉|解释|定义|评价)"
_ENGLISH_SAYS = (
    r"(?:notes?|says?|argues?|thinks?|believes?|points? out|states?|expects?|estimates?|suggests?|claims?|writes?|"
    r"mentions?|explains?|observes?|concludes?|reckons?|admits?)"
)
_ATTRIBUTION = re.compile(
    rf"^(?:{_WHO}(?:还|也|进一步)?{_SAYS}了?[，,：:]?\s*|"
    rf"{_WHO}(?:的|所)?{_VIEW}(?:是|为)?[，,：:]?\s*|"
    rf"(?:根据|按照|按|据|依)(?:资料|作者|文章|原文|本文|这篇文章)(?:的)?(?:所说|介绍|说法|观点|描述)?[，,]\s*|"
    r"(?:according to|in the view of) the (?:author|article|paper|passage|sources?),?\s*|in the author'?s view,?\s*|"
    rf"the (?:author|article|paper|passage|source|writer)s? (?:also )?{_ENGLISH_SAYS}(?: that)?\s+|"
    r"the (?:author|writer)'s (?:view|point|conclusion|summary|advice|suggestion) is(?: that)?:?\s+)",
    re.IGNORECASE,
)


def without_attribution(claim: str) -> str:
    """``claim`` without a leading attribution to the author or the sources."""
    return _ATTRIBUTION.sub("", claim, count=1)


def normalise(text: str) -> str:
    """NFKC and lower case, character by character, so positions match ``text`` one to one."""
    return "".join(_fold(ch) for ch in text)


@cache
def _fold(ch: str) -> str:
    folded = unicodedata.normalize("NFKC", ch).lower()
    return folded if len(folded) == 1 else ch.lower()


def is_cjk(text: str) -> bool:
    """Whether ``text`` holds any Chinese character."""
    return CJK_RUN.search(text) is not None


def stem(word: str) -> str:
    """A Latin word without its most common English endings (tokens -> token, learned -> learn)."""
    for ending in ("ies", "es", "s", "ed", "ing"):
        if len(word) > len(ending) + 3 and word.endswith(ending):
            return word[: -len(ending)] + ("y" if ending == "ies" else "")
    return word


def latin_words(norm: str) -> list[str]:
    """Stemmed Latin words of normalised text, without English function words."""
    return [stem(w) for w in LATIN_WORD.findall(norm) if w not in ENGLISH_STOPWORDS and len(w) > 1]


def cjk_bigrams(norm: str) -> list[str]:
    """Character bigrams inside each Chinese run (a lone character counts as itself)."""
    grams: list[str] = []
    for run in CJK_RUN.findall(norm):
        if len(run) == 1:
            grams.append(run)
        grams += [run[i : i + 2] for i in range(len(run) - 1)]
    return grams


def _is_content(gram: str) -> bool:
    return not all(ch in FUNCTION_CHARS for ch in gram)


def content_units(norm: str) -> list[str]:
    """The units coverage counts: content bigrams, Latin words and number values, in reading order
    within each kind (numbers prefixed with '#' so they never collide with words)."""
    grams = [g for g in cjk_bigrams(norm) if _is_content(g)]
    return grams + latin_words(norm) + ["#" + value for value, _ in numbers(norm)]


@dataclass(frozen=True)
class UnitIndex:
    """The units of one text (a source, a span of it, or several sources together), for lookups."""

    norm: str
    units: frozenset[str]

    @classmethod
    def of(cls, text: str) -> UnitIndex:
        return cls.of_normalised(normalise(text))

    @classmethod
    def of_normalised(cls, norm: str) -> UnitIndex:
        """Every bigram (function ones too, for the uncovered-run test), word and number of ``norm``
        (each number under its value and its aliases: rag.verify.numbers)."""
        values = [value for value, _ in numbers(norm)] + list(number_aliases(norm))
        words = latin_words(norm) + ["#" + value for value in values]
        return cls(norm, frozenset(cjk_bigrams(norm)) | frozenset(words))

    def __or__(self, other: UnitIndex) -> UnitIndex:
        return UnitIndex(self.norm + "\n" + other.norm, self.units | other.units)


def coverage(units: list[str], index: UnitIndex) -> float:
    """Share of ``units`` found in ``index`` (1.0 when there are none to find)."""
    return sum(u in index.units for u in units) / len(units) if units else 1.0
