"""What the checker measures about one claim against the sources it cites (and those it does not).

``assess`` returns the feature vector the fitted model scores (rag/verify/model.py), the
best-matching span of the cited sources, and the reasons a person would want to read if the
claim turns out unsupported.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import reduce

import numpy as np

from rag.verify.facts import Fact, claim_facts, fact_found
from rag.verify.polarity import reversal
from rag.verify.sources import Source, Span
from rag.verify.swaps import compact, swapped
from rag.verify.text import (
    CJK_RUN,
    CLAUSE_BREAK,
    UnitIndex,
    content_units,
    coverage,
    is_cjk,
    normalise,
    without_attribution,
)
from rag.verify.words import missing_words, specificity

# Chosen on the calibration half (bench/verify_fit.py): dense similarity, a cross-lingual flag and
# a negation-parity test were measured too and left out, as they did not raise cross-validated accuracy.
FEATURES = (
    "coverage",  # share of the claim's units in the cited sources (cross-lingual: share of its facts)
    "min_clause_coverage",  # the least covered clause
    "uncovered_run",  # longest run of Chinese characters the cited sources never spell, /10, at most 1
    "missing_word_share",  # specificity-weighted share of the claim's Chinese words not in them
    "rarest_missing_word",  # specificity of the rarest such word
    "missing_numbers",  # numbers none of them contains (at most 2)
    "missing_names",  # names, identifiers, quotes none of them contains (at most 2)
    "facts_elsewhere",  # of those, how many an uncited source contains (at most 2)
    "uncited_coverage_gain",  # how much better the best uncited source covers the claim
    "swapped_facts",  # facts whose place in the claim holds another number or name in the source (at most 2)
    "swapped_words",  # specific Chinese words whose place holds another word in the source (at most 2)
    "negation_flips",  # share of shared words negated in one text only (claim vs best span)
    "opposite_words",  # claim says X where the span says X's opposite
    "negated_clauses",  # a claim clause and its near copy in the span differ by a negation
)
# A claim is unsupported, whatever else it shares with its sources, when a number, name or quote
# of it is in none of them, when the sources put another fact in its place, when it uses a word
# whose opposite the best span uses, or when at least this share of the words it shares with
# that span are negated in one and not the other (no supported calibration claim came near:
# their highest share was 0.20). Across languages only numbers and opposites count, as names may
# be translated.
DECISIVE_FLIPS = 0.25
SpanKey = tuple[int, int]  # (source number, start offset)


@dataclass
class Assessment:
    """One claim measured against one set of cited sources."""

    features: np.ndarray
    evidence: tuple[int, int, int] | None
    reasons: list[str] = field(default_factory=list)  # shown only if the claim is judged unsupported
    better_source: int | None = None  # an uncited source that holds what the cited ones lack
    decisive: bool = False  # a sign that alone makes the claim unsupported (see DECISIVE_FLIPS)


def _uncovered_run(norm: str, index: UnitIndex) -> int:
    longest = 0
    for run in CJK_RUN.finditer(norm):
        text, current = run.group(), 0
        for i in range(len(text)):
            covered = (i > 0 and text[i - 1 : i + 1] in index.units) or text[i : i + 2] in index.units
            current = 0 if covered else current + 1
            longest = max(longest, current)
    return longest


def _clauses(claim: str, norm: str) -> list[tuple[str, list[str]]]:
    bounds = [0, *(i for m in CLAUSE_BREAK.finditer(norm) for i in (m.start(), m.end())), len(norm)]
    pieces = [(claim[a:b].strip(), content_units(norm[a:b])) for a, b in zip(bounds[::2], bounds[1::2], strict=False)]
    return [(text, units) for text, units in pieces if len(units) >= 3]


def _best_span(units: list[str], spans: Sequence[Span], sims: Mapping[SpanKey, float]) -> list[Span]:
    """The cited sentence (or two neighbouring ones) that best matches the claim: the most of its
    ``units`` (cross-lingual: of its facts), plus the cosine where one was computed."""

    def score(group: list[Span]) -> float:
        lex = coverage(units, reduce(UnitIndex.__or__, (s.index for s in group))) if units else 0.0
        dense = max((sims.get((s.number, s.start), 0.0) for s in group), default=0.0)
        return lex + dense - 0.05 * (len(group) - 1)

    groups = [[s] for s in spans] + [[a, b] for a, b in itertools.pairwise(spans) if a.number == b.number]
    return max(groups, key=score) if groups else []


def fact_units(facts: Sequence[Fact]) -> list[str]:
    """The units that stand for ``facts`` in a UnitIndex (numbers and single Latin words)."""
    return ["#" + f.key if f.kind == "number" else f.key for f in facts if f.kind != "quote"]


def needs_dense(claim: str, compared: Sequence[Source]) -> bool:
    """Whether words cannot pick the claim's best span: it is in another language than the sources
    it is compared with and none of their sentences holds any of its numbers or names."""
    if not compared or not cross_lingual(claim, compared):
        return False
    facts = claim_facts(claim, same_language=False)
    return not any(fact_found(f, span.index) for s in compared for span in s.spans for f in facts)


def _swaps(
    norm: str, index: UnitIndex, facts: list[Fact], absent_words: list[str]
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(facts, specific words) of the claim whose slot in the cited text holds something else."""
    claim, source = compact(norm), compact(index.norm)
    found: tuple[list[tuple[str, str]], list[tuple[str, str]]] = ([], [])
    for fact in facts:
        other = swapped(claim, source, fact.key if fact.kind != "quote" else "")
        if other:
            found[0].append((fact.written, other))
    for word in absent_words:
        other = swapped(claim, source, word) if specificity(word) >= 0.5 else None
        if other:
            found[1].append((word, other))
    return found


def _fact_reason(fact: Fact, elsewhere: list[int]) -> str:
    if elsewhere:
        return f"{fact.written}（资料[{elsewhere[0]}] / in source [{elsewhere[0]}]）"
    return fact.written


def cross_lingual(claim: str, sources: Sequence[Source]) -> bool:
    """Whether the claim is written in another language than most of ``sources``."""
    return is_cjk(claim) != (sum(s.chinese for s in sources) * 2 >= len(sources))


def assess(claim: str, cited: Sequence[Source], uncited: Sequence[Source], sims: Mapping[SpanKey, float]) -> Assessment:
    """Measure ``claim`` (markers removed) against the ``cited`` sources. ``sims`` holds its cosine
    to source sentences by (number, start): what picks the best span when the claim and its
    sources are in different languages, so that words cannot; it may be empty otherwise."""
    facts_claim, claim = claim, without_attribution(claim)
    norm = normalise(claim)
    units = content_units(norm)
    index = reduce(UnitIndex.__or__, (s.index for s in cited))
    cross = cross_lingual(claim, cited)
    facts = claim_facts(facts_claim, not cross)
    missing = [f for f in facts if not fact_found(f, index)]
    elsewhere = {f: [s.number for s in uncited if fact_found(f, s.index)] for f in missing}
    covered = coverage(units, index) if not cross else 1 - len(missing) / max(len(facts), 1)
    clauses = _clauses(claim, norm) if not cross else []
    clause_cover = [(coverage(u, index), text) for text, u in clauses]
    word_share, rarest, absent_words = missing_words(norm, index.norm) if not cross else (0.0, 0.0, [])
    uncited_cover = max(((coverage(units, s.index), s.number) for s in uncited), default=(0.0, None))
    best = _best_span(fact_units(facts) if cross else units, [sp for s in cited for sp in s.spans], sims)
    best_norm = "".join(s.index.norm for s in best)
    swaps = _swaps(norm, index, facts, absent_words) if not cross else ([], [])
    reversed_ = reversal(norm, best_norm, cross)
    flips, shared, opposites = reversed_.flips, reversed_.shared, reversed_.opposites
    vector = np.array(
        [
            covered,
            min((c for c, _ in clause_cover), default=covered),
            min(_uncovered_run(norm, index) / 10, 1.0) if not cross else 0.0,
            word_share,
            rarest,
            min(sum(f.kind == "number" for f in missing), 2),
            min(sum(f.kind != "number" for f in missing), 2),
            min(sum(bool(v) for v in elsewhere.values()), 2),
            max(0.0, uncited_cover[0] - covered) if not cross else 0.0,
            min(len(swaps[0]), 2),
            min(len(swaps[1]), 2),
            flips / shared if shared else 0.0,
            min(len(opposites), 1),
            min(reversed_.negated_clauses, 1),
        ],
        dtype=np.float64,
    )
    reasons = [_fact_reason(f, elsewhere[f]) for f in missing]
    reasons += [f"{mine} ≠ {theirs}" for mine, theirs in swaps[0] + swaps[1]]
    reasons += [f"{said} ≠ {theirs}" for said, theirs in opposites]
    if shared and flips * 3 >= shared:
        reasons.append("否定与资料相反 / negation reversed")
    weak = [text for c, text in clause_cover if c < 0.5 and text not in reasons]
    reasons += weak[:1] or absent_words[:2]
    better = next((v[0] for v in elsewhere.values() if v), None)
    if better is None and uncited_cover[0] - covered > 0.15:
        better = uncited_cover[1]
    evidence = (best[0].number, best[0].start, best[-1].end) if best else None
    if cross:
        decisive = any(f.kind == "number" for f in missing) or bool(opposites)
    else:
        decisive = bool(missing or swaps[0] or opposites) or (shared > 0 and flips / shared >= DECISIVE_FLIPS)
    return Assessment(vector, evidence, reasons, better, decisive)
