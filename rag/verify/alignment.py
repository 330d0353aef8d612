"""Where a claim lands in its sources: its best-matching span, its clauses, its swapped slots.

These are the measurements rag/verify/features.py turns into numbers: which sentence (or two
neighbouring ones) of the cited sources the claim was written from, by shared units or, across
languages, by shared facts and the embedder's cosine; which clauses of the claim those sources
cover least; which of its facts and words sit where the source has something else.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from functools import reduce

from rag.verify.facts import Fact
from rag.verify.numbers import ARABIC_NUMBER, same_value
from rag.verify.sources import Source, Span
from rag.verify.swaps import compact, swapped
from rag.verify.text import CJK_RUN, CLAUSE_BREAK, FUNCTION_CHARS, UnitIndex, content_units, coverage, is_cjk

SpanKey = tuple[int, int]  # (source number, start offset)


def cross_lingual(claim: str, sources: Sequence[Source]) -> bool:
    """Whether the claim is written in another language than most of ``sources``."""
    return is_cjk(claim) != (sum(s.chinese for s in sources) * 2 >= len(sources))


def uncovered_run(norm: str, index: UnitIndex) -> int:
    """The longest run of the claim's Chinese characters that no bigram of ``index`` spells."""
    longest = 0
    for run in CJK_RUN.finditer(norm):
        text, current = run.group(), 0
        for i in range(len(text)):
            covered = (i > 0 and text[i - 1 : i + 1] in index.units) or text[i : i + 2] in index.units
            current = 0 if covered else current + 1
            longest = max(longest, current)
    return longest


def char_coverage(norm: str, index: UnitIndex) -> float:
    """Share of the claim's content characters (Chinese characters other than FUNCTION_CHARS) that
    the indexed text uses anywhere: a paraphrase reorders and re-pairs them, an invention brings
    new ones. 1.0 for a claim without Chinese."""
    chars = [ch for run in CJK_RUN.findall(norm) for ch in run if ch not in FUNCTION_CHARS]
    return sum(ch in index.norm for ch in chars) / len(chars) if chars else 1.0


def clauses(claim: str, norm: str) -> list[tuple[str, list[str]]]:
    """The claim's clauses (as written, with their content units) that hold three units or more."""
    bounds = [0, *(i for m in CLAUSE_BREAK.finditer(norm) for i in (m.start(), m.end())), len(norm)]
    pieces = [(claim[a:b].strip(), content_units(norm[a:b])) for a, b in zip(bounds[::2], bounds[1::2], strict=False)]
    return [(text, units) for text, units in pieces if len(units) >= 3]


def best_span(units: list[str], spans: Sequence[Span], sims: Mapping[SpanKey, float]) -> list[Span]:
    """The sentence (or two neighbouring ones) that best matches the claim: the most of its
    ``units`` (cross-lingual: of its facts), plus the cosine where one was computed."""

    def score(group: list[Span]) -> float:
        lex = coverage(units, reduce(UnitIndex.__or__, (s.index for s in group))) if units else 0.0
        dense = max((sims.get((s.number, s.start), 0.0) for s in group), default=0.0)
        return lex + dense - 0.05 * (len(group) - 1)

    groups = [[s] for s in spans] + [[a, b] for a, b in itertools.pairwise(spans) if a.number == b.number]
    return max(groups, key=score) if groups else []


def best_cosine(sources: Sequence[Source], sims: Mapping[SpanKey, float]) -> float:
    """The claim's highest cosine to a sentence of ``sources`` (0 where none was computed)."""
    return max((sims.get((sp.number, sp.start), 0.0) for s in sources for sp in s.spans), default=0.0)


def fact_units(facts: Sequence[Fact]) -> list[str]:
    """The units that stand for ``facts`` in a UnitIndex (numbers and single Latin words)."""
    return ["#" + f.key if f.kind == "number" else f.key for f in facts if f.kind != "quote"]


def _whole_word(word: str, norm: str) -> bool:
    return re.search(rf"(?<![a-z0-9]){re.escape(word)}(?![a-z0-9])", norm) is not None


def swaps(norm: str, index: UnitIndex, facts: list[Fact]) -> list[tuple[str, str]]:
    """(fact, what the source has instead): facts of the claim whose slot in the cited text holds
    something else. A Latin fill counts only as a whole word of the source: compacting "device x"
    must not make a word "devicex" of it."""
    claim, source = compact(norm), compact(index.norm)
    found = []
    for fact in facts:
        # a number by its digits as written, without the scale after them: its key is its value
        # ("200b" is 200000000000) and "b" is the context the source shares
        digits = ARABIC_NUMBER.match(fact.written)
        token = {"number": digits.group() if digits else fact.written, "quote": ""}.get(fact.kind, fact.key)
        other = swapped(claim, source, token)
        if other and fact.kind == "number" and same_value(fact.written, other):
            continue  # 三条路径 where the source writes 3条路径
        if other and (not re.fullmatch(r"[a-z][\w.\-]*", other) or (len(other) > 1 and _whole_word(other, index.norm))):
            found.append((fact.written, other))
    return found
