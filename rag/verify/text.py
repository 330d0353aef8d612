"""Text as the checker compares it: normalised characters, comparable units, numbers and clauses.

Everything is compared after NFKC (full-width digits, letters and punctuation become ASCII) and
lower-casing. A text's *units* are what coverage counts: Chinese character bigrams (a lone
character where a run has one), Latin words (lightly stemmed) and numbers (by value, so that
"十二" in a sentence matches "12" in a source).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
LATIN_WORD = re.compile(r"[a-z][a-z0-9]*(?:'[a-z]+)?")
ARABIC_NUMBER = re.compile(r"(?<![\d.])\d+(?:,\d{3})*(?:\.\d+)?")
CJK_NUMBER = re.compile(r"百分之[零〇一二两三四五六七八九十百]+|[零〇一二两三四五六七八九十百千万亿]+")
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
_CJK_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CJK_SCALES = {"十": 10, "百": 100, "千": 1000, "万": 10_000, "亿": 100_000_000}
# Numeral characters inside ordinary words ("very", "in case", "must not", "one by one").
_NOT_NUMBERS = ("十分", "万一", "千万", "一一", "三三两两", "万万", "一万步")


# Who says it: a leading "作者认为，" or "The author notes that" is not part of what must be found.
_ATTRIBUTION = re.compile(
    r"^(?:(?:作者|笔者|文章|本文|论文|原文|文中|资料|研究者?|研究人员|有人|他们?)(?:还|也|进一步)?"
    r"(?:认为|指出|表示|提到|提出|强调|判断|发现|说|估计|觉得|主张|建议|写道|介绍|预计|相信|证明)了?[，,：:]?\s*|"
    r"(?:根据|按照|据)(?:资料|作者|文章|原文)(?:所说|介绍)?[，,]\s*|"
    r"according to the (?:author|article|paper|passage|sources?),?\s*|"
    r"the (?:author|article|paper|passage|source|writer)s? (?:also )?(?:notes?|says?|argues?|thinks?|believes?|"
    r"points? out|states?|expects?|estimates?|suggests?|claims?|writes?|mentions?|explains?|observes?)(?: that)?\s+)",
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


def cjk_value(numeral: str) -> int | None:
    """The value of a Chinese numeral ("十二" -> 12, "三千五百" -> 3500), or None if it is not one."""
    total, section, digit = 0, 0, None
    for ch in numeral:
        if ch in _CJK_DIGITS:
            digit = _CJK_DIGITS[ch] if digit is None else digit * 10 + _CJK_DIGITS[ch]
        elif ch in ("万", "亿"):
            total += (section + (digit or 0)) * _CJK_SCALES[ch]
            section, digit = 0, None
        else:
            section += (1 if digit is None else digit) * _CJK_SCALES[ch]
            digit = None
    value = total + section + (digit or 0)
    return value if value or "零" in numeral or "〇" in numeral else None


def numbers(norm: str) -> Iterator[tuple[str, str]]:
    """(value, as written) for each number in normalised text: Arabic, and Chinese numerals other
    than one (一 is mostly part of words: 一定, 统一, 一般) and lone scale characters (万物, 百科)."""
    for match in ARABIC_NUMBER.finditer(norm):
        raw = match.group()
        value = raw.replace(",", "")
        value = value.rstrip("0").rstrip(".") if "." in value else value.lstrip("0") or "0"
        yield value, raw
    for match in CJK_NUMBER.finditer(norm):
        raw = match.group()
        around = norm[max(0, match.start() - 1) : match.end() + 1]
        if any(word in around for word in _NOT_NUMBERS) or set(raw) <= set(_CJK_SCALES) - {"十"}:
            continue
        value = cjk_value(raw.removeprefix("百分之"))
        if value is not None and value != 1:
            yield str(value), raw


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
        """Every bigram (function ones too, for the uncovered-run test), word and number of ``norm``."""
        words = latin_words(norm) + ["#" + value for value, _ in numbers(norm)]
        return cls(norm, frozenset(cjk_bigrams(norm)) | frozenset(words))

    def __or__(self, other: UnitIndex) -> UnitIndex:
        return UnitIndex(self.norm + "\n" + other.norm, self.units | other.units)


def coverage(units: list[str], index: UnitIndex) -> float:
    """Share of ``units`` found in ``index`` (1.0 when there are none to find)."""
    return sum(u in index.units for u in units) / len(units) if units else 1.0
