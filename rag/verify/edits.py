"""What a near copy changed: the edits that turn the claim's best-matching span into the claim.

A claim written from one sentence keeps most of its characters; a false one differs from it in a
few replaced words, and the telling replacements are of three kinds: two of the span's terms
exchanged ("理解 ... 生成" -> "生成 ... 理解", "第 1 条 ... 第 3 条" -> "第 3 条 ... 第 1 条"), a
negation added or dropped ("持续上升" -> "并没有提升", "完全没有" -> "具备"), a number put for
another of another value ("十个" -> "八个", not "3个" -> "三个"). A reworded claim replaces words
too, but with synonyms, which are none of these. The claim and the span are aligned character by
character (difflib); only replacements inside the alignment, with matched text on both sides,
count, and only for a near copy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from rag.verify.numbers import same_value
from rag.verify.polarity import negation_count
from rag.verify.swaps import compact

CONTEXT = 2  # matched characters an edit needs on each side to count as inside the alignment
LONGEST = 8  # a replacement longer than this on either side is rewording, not a swapped word
NEAR_COPY = 0.6  # a claim with this share of its characters aligned with its span copies it
_NUMERAL = re.compile(r"[\d.]+|[零〇一二两三四五六七八九十百千万亿]+")


@dataclass(frozen=True)
class Edits:
    """The replacements that turn a span into a claim that nearly copies it, by kind."""

    exchanges: int = 0  # replacements undone by another one: two terms trade places
    negations: int = 0  # replacements that add or drop a negation
    numbers: int = 0  # a number replaced by another


def _replacements(span: str, claim: str) -> tuple[float, list[tuple[str, str]]]:
    ops = SequenceMatcher(None, span, claim, autojunk=False).get_opcodes()
    matched = sum(j2 - j1 for tag, _, _, j1, j2 in ops if tag == "equal") / len(claim)
    found = []
    for before, (tag, i1, i2, j1, j2), after in zip(ops, ops[1:], ops[2:], strict=False):
        if tag != "replace" or before[0] != "equal" or after[0] != "equal":
            continue
        if min(before[4] - before[3], after[4] - after[3]) >= CONTEXT and max(i2 - i1, j2 - j1) <= LONGEST:
            # with one character of context each side, so a split word (不具备 / 具备) stays whole
            found.append((span[max(i1 - 1, 0) : i2 + 1], claim[max(j1 - 1, 0) : j2 + 1]))
    return matched, found


def _exchanged(one: tuple[str, str], other: tuple[str, str]) -> bool:
    """Whether two replacements undo each other."""
    (theirs, mine), (theirs2, mine2) = (tuple(s[1:-1] for s in pair) for pair in (one, other))
    return bool(theirs and mine) and theirs in mine2 and mine in theirs2


def near_copy_edits(norm: str, span_norm: str) -> Edits:
    """The telling replacements between normalised claim and span, none unless it is a near copy."""
    claim, span = compact(norm), compact(span_norm)
    if not claim or not span:
        return Edits()
    matched, pairs = _replacements(span, claim)
    if matched < NEAR_COPY:
        return Edits()
    exchanges = sum(any(_exchanged(p, q) for q in pairs if q is not p) for p in pairs)
    negations = sum(negation_count(theirs) % 2 != negation_count(mine) % 2 for theirs, mine in pairs)
    numbers = sum(
        bool(_NUMERAL.fullmatch(theirs[1:-1]) and _NUMERAL.fullmatch(mine[1:-1])) and not same_value(theirs, mine)
        for theirs, mine in pairs
    )
    return Edits(exchanges, negations, numbers)
