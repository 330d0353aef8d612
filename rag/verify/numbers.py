"""Numbers as the checker compares them: by value, with their scale ("175B" = "1750 亿").

A claim and its source often write one number differently: Arabic or Chinese digits (12, 十二),
with a scale word or letter (175B, 1750 亿, 5.4 trillion, 3 万), spelled out in English (three,
tenfold). Each is compared by its value. A source's index also holds each number as its digits
are written (175 for 175B) and a two-digit year as the full year (21年 -> 2021), so a claim that
writes less than its source still finds it; the claim is looked up by its full value only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation

# Not glued to a letter before it: the 2 of "chatglm2" or "python3" is part of a name, not a number.
ARABIC_NUMBER = re.compile(r"(?<![\d.a-z_])\d+(?:,\d{3})*(?:\.\d+)?")
# A list item's number ("2. 设置…", "3、", "1)") at the start of a line counts nothing.
_LIST_END = re.compile(r"[.、)](?!\d)")
CJK_NUMBER = re.compile(r"百分之[零〇一二两三四五六七八九十百]+|[零〇一二两三四五六七八九十百千万亿]+")
# What may follow an Arabic number and scales it: "175b", "1.4 trillion", "1750 亿", "3 万".
_SCALE_AFTER = re.compile(r"\s?(千亿|万亿|亿|万|thousand|million|billion|trillion|[kmbt](?![a-z]))")
_SCALES = {
    "k": 10**3,
    "thousand": 10**3,
    "万": 10**4,
    "m": 10**6,
    "million": 10**6,
    "亿": 10**8,
    "b": 10**9,
    "billion": 10**9,
    "千亿": 10**11,
    "t": 10**12,
    "trillion": 10**12,
    "万亿": 10**12,
}
_ENGLISH = {
    word: value
    for value, words in enumerate(
        (
            "",
            "",
            "two twice twofold",
            "three thrice threefold",
            "four fourfold",
            "five fivefold",
            "six sixfold",
            "seven",
            "eight",
            "nine",
            "ten tenfold",
            "eleven",
            "twelve dozen",
        )
    )
    for word in words.split()
} | {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "hundred": 100, "hundredfold": 100}
_ENGLISH_NUMBER = re.compile(rf"\b(?:{'|'.join(sorted(_ENGLISH, key=len, reverse=True))})\b")
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


def _canonical(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def numbers(norm: str) -> Iterator[tuple[str, str]]:
    """(value, as written) for each number in normalised text: Arabic (times a scale written right
    after it), English number words, and Chinese numerals other than one (一 is mostly part of
    words: 一定, 统一, 一般) and lone scale characters (万物, 百科)."""
    for match in ARABIC_NUMBER.finditer(norm):
        raw = match.group()
        if _LIST_END.match(norm, match.end()) and _starts_line(norm, match.start()):
            continue
        try:
            value = Decimal(raw.replace(",", ""))
        except InvalidOperation:
            continue
        scale = _SCALE_AFTER.match(norm, match.end())
        if scale:
            value *= _SCALES[scale.group(1)]
            raw += scale.group()
        yield _canonical(value), raw
    for match in _ENGLISH_NUMBER.finditer(norm):
        yield str(_ENGLISH[match.group()]), match.group()
    for match in CJK_NUMBER.finditer(norm):
        raw = match.group()
        around = norm[max(0, match.start() - 1) : match.end() + 1]
        if any(word in around for word in _NOT_NUMBERS) or set(raw) <= set(_CJK_SCALES) - {"十"}:
            continue
        value = cjk_value(raw.removeprefix("百分之"))
        if value is not None and value != 1:
            yield str(value), raw


def _starts_line(norm: str, at: int) -> bool:
    return not norm[norm.rfind("\n", 0, at) + 1 : at].strip()


def number_aliases(norm: str) -> Iterator[str]:
    """Further values under which a source's numbers are found: the digits as written when a scale
    follows them (175 in 175B), and the full year of a two-digit one ("21年" -> 2021)."""
    for match in ARABIC_NUMBER.finditer(norm):
        raw = match.group().replace(",", "")
        if _SCALE_AFTER.match(norm, match.end()):
            yield _canonical(Decimal(raw))
        if len(raw) == 2 and norm.startswith("年", match.end()):
            yield ("20" if int(raw) < 50 else "19") + raw


def same_value(one: str, other: str) -> bool:
    """Whether two normalised texts say the same numbers, however written (三 / 3, 两 / 2)."""
    mine = {value for value, _ in numbers(one)}
    return bool(mine) and mine == {value for value, _ in numbers(other)}
