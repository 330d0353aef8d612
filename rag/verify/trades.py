"""Terms a claim put in each other's places, or a name or word it put in another's place.

"萨提亚强调 Autopilot 是比 Copilot 还先进的" against "萨提亚强调 Copilot 是比 Autopilot 还先进的", or
"OpenAI 的安迪·琼斯" against "Anthropic 的安迪·琼斯": every term is in the source, so no presence test
sees it, and the term may stand at the edge of a clause, where the slot test (swaps.py) has no
context on one side. The test here trades the terms back and asks whether the claim then reads
more like its best-matching span: whether the span holds more of the 4-character runs around the
traded places. A paraphrase gains nothing from it; a claim whose terms were exchanged gains on both
sides. Only a name of a Chinese claim is tried in place of another name: Chinese words trade places
with their synonyms too, and in an English claim every word is Latin. A Chinese word counts as put
for another ("架构师" for "码农") only where the span has the claim's three characters on both sides
of it: a paraphrase that changes one word seldom keeps both sides verbatim.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from rag.verify.swaps import compact
from rag.verify.text import is_cjk
from rag.verify.words import chinese_words

RUN = 4  # characters of the runs looked up in the span
APART = 3  # characters two exchanged terms must have between them
CONTEXT = 3  # characters the span must share with the claim on each side of a replaced word
_TERM = re.compile(r"(?<![a-z0-9])(?:[a-z][a-z0-9.\-]*[a-z0-9]|[a-z]|\d+(?:\.\d+)?)(?![a-z0-9])")


@dataclass(frozen=True)
class Trades:
    """Pairs (said, meant): terms the claim exchanged, names and Chinese words it put for the span's."""

    exchanged: list[tuple[str, str]] = field(default_factory=list)
    substituted: list[tuple[str, str]] = field(default_factory=list)
    replaced: list[tuple[str, str]] = field(default_factory=list)  # Chinese words


def _runs_across(text: str, runs: frozenset[str], start: int, end: int) -> int:
    """How many runs of ``text`` that reach into [start, end) from either side ``runs`` holds."""
    first, last = max(0, start - RUN + 1), min(len(text) - RUN, end - 1)
    return sum(text[i : i + RUN] in runs for i in range(first, last + 1) if not (i >= start and i + RUN <= end))


def _exchange_gains(claim: str, runs: frozenset[str], one: str, other: str) -> tuple[int, int] | None:
    """The runs gained at each place when two terms of the claim trade places (None: they overlap
    or stand too close)."""
    at, at_other = claim.find(one), claim.find(other)
    if at > at_other:
        one, other, at, at_other = other, one, at_other, at
    if at < 0 or at + len(one) + APART > at_other:
        return None
    traded = claim[:at] + other + claim[at + len(one) : at_other] + one + claim[at_other + len(other) :]
    moved = at_other + len(other) - len(one)
    first = _runs_across(traded, runs, at, at + len(other)) - _runs_across(claim, runs, at, at + len(one))
    before = _runs_across(claim, runs, at_other, at_other + len(other))
    return first, _runs_across(traded, runs, moved, moved + len(one)) - before


def _replaced(claim: str, span: str, word: str, span_words: list[str]) -> str | None:
    """The word of ``span_words`` that ``span`` has between the same CONTEXT characters as ``word``
    has in ``claim`` (compact texts), about as long as it and sharing no character with it."""
    at = claim.find(word)
    if at < CONTEXT:
        return None
    left, right = claim[at - CONTEXT : at], claim[at + len(word) : at + len(word) + CONTEXT]
    if len(right) < CONTEXT:
        return None
    return next(
        (w for w in span_words if abs(len(w) - len(word)) <= 1 and not set(w) & set(word) and left + w + right in span),
        None,
    )


def trades(norm: str, span_norm: str, absent_words: Sequence[str] = ()) -> Trades:
    """The exchanges and substitutions that make normalised ``norm`` read more like the normalised
    span it best matches: two of its terms (names, numbers, Chinese words) that gain on both sides
    when traded back, a name of it that gains when one of the span's is put in its place (in
    reading order, each put in before the next is tried), and a Chinese word of it that none of the
    cited sources holds (``absent_words``) in whose place the span has another."""
    claim, span = compact(norm), compact(span_norm)
    if len(claim) < 2 * RUN or not span:
        return Trades()
    runs = frozenset(span[i : i + RUN] for i in range(len(span) - RUN + 1))
    # terms of the normalised texts, where words still have their bounds ("deepmind的gopher")
    names = list(dict.fromkeys(m.group() for m in _TERM.finditer(norm)))
    terms = [t for t in names + [w for w in dict.fromkeys(chinese_words(norm)) if w in claim] if t in span]
    exchanged = []
    for i, one in enumerate(terms):
        for other in terms[i + 1 :]:
            gains = None if one in other or other in one else _exchange_gains(claim, runs, one, other)
            if gains and min(gains) > 0:
                exchanged.append((one, other))
    span_words = [w for w in dict.fromkeys(chinese_words(span_norm)) if w in span and w not in claim]
    replaced = [(w, other) for w in absent_words if (other := _replaced(claim, span, w, span_words))]
    substituted: list[tuple[str, str]] = []
    if not is_cjk(norm):  # in English every word is Latin, and most are no name
        return Trades(exchanged, substituted, replaced)
    span_names = [m.group() for m in _TERM.finditer(span_norm) if not m.group()[0].isdigit()]
    for said in (n for n in names if not n[0].isdigit()):
        at = claim.find(said)
        if at < 0:
            continue
        before = _runs_across(claim, runs, at, at + len(said))
        for meant in dict.fromkeys(n for n in span_names if n not in claim):
            put = claim[:at] + meant + claim[at + len(said) :]
            if _runs_across(put, runs, at, at + len(meant)) - before >= 2:
                substituted.append((said, meant))
                claim = put  # the next names are read beside the one it should have said
                break
    return Trades(exchanged, substituted, replaced)
