"""Reversed claims: a negation the source does not make (or drops one it makes), an opposite word.

A word is *negated* when a negation (不, 没有, 无法, 并非, not, never, cannot…) comes before it in
the same clause. A claim is reversed relative to its best-matching source span when words they
share are negated in one and not in the other, when it says plainly what the sources only ever
say negated (并非完全正相关 / 完全正相关), or when the claim uses a word whose opposite the span uses
instead (放大 / 缩小, easy / 困难).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from functools import cache

from rag.verify.text import CJK_RUN, CLAUSE_BREAK, LATIN_WORD, stem

_NEGATION = re.compile(
    r"并非|并不|并没有|从不|从未|绝不|毫无|无法|不能|没有|[不没无未非]|"
    r"\b(?:not|no|never|cannot|without|none|neither|nor|nothing|hardly)\b|n['’]t\b|\bfail(?:s|ed)? to\b"
)
# Words that contain a negation character but negate nothing (不断 "keeps", 非常 "very", 未来 "future").
_NOT_NEGATIONS = re.compile(
    r"不仅|不但|不断|不停|不时|不过|不少|不错|不久|不妨|不禁|不得不|不管|不论|不同|不如|非常|无论|无数|未来|是否|否则|无疑|"
    r"莫过于|毫不|\bno longer\b|\bnot only\b"
)
# Opposites, each side in both languages: Chinese words or single characters, English word stems.
_OPPOSITES: tuple[tuple[frozenset[str], frozenset[str]], ...] = tuple(
    (frozenset(a.split()), frozenset(b.split()))
    for a, b in (
        ("放大 扩大 增大 amplif enlarg magnif", "缩小 减小 shrink narrow"),
        ("增 升 提高 提升 加快 increas rise grow rais improv boost", "减 降 decreas reduc fall declin lower drop"),
        ("多 more many", "少 fewer less few"),
        ("高 high", "低 low"),
        ("大 larg great big", "小 small"),
        ("快 fast quick rapid", "慢 缓 slow"),
        ("早 earl", "晚 迟 late"),
        ("强 strong", "弱 weak"),
        ("易 easy easi", "难 difficult hard"),
        ("优 strength advantag", "劣 weakness disadvantag"),
        ("密 dense", "稀 疏 sparse"),
        ("好 good better", "坏 差 bad wors"),
        ("超过 胜过 优于 exceed outperform surpass", "不如 逊于 劣于 underperform"),
        ("之前 以前 before earlier", "之后 以后 after later"),
        ("正确 correct right", "错 wrong incorrect"),
        ("相同 一样 same identical", "不同 差异 different differ"),
        ("成功 success succeed", "失败 failur fail"),
        ("收敛 converg", "发散 diverg"),
        ("突然 骤然 sudden abrupt", "逐渐 渐渐 平滑 gradual smooth"),
        ("必须 must", "不必 无需 needn"),
        ("所有 全部 all every", "部分 some"),
        ("经常 常常 总是 often always usual", "很少 偶尔 rare seldom"),
        ("支持 support", "反对 oppos"),
        ("连续 continu", "离散 discret"),
        ("简单 simpl", "复杂 complex complicat"),
        ("领先 ahead lead", "落后 behind"),
        ("主动 activ", "被动 passiv"),
        ("显式 explicit", "隐式 implicit"),
        ("开源 open-source", "闭源 closed-source"),
        ("正相关 positive", "负相关 negative"),
    )
)


# A negation right before a phrase, words like 不仅 included: dropping the 不 of 不仅仅 reverses
# "不仅仅是功能性的" as surely as dropping that of 不具备.
_NEGATION_BEFORE = re.compile(r"(?:并非|并不|并没有|没有|不是|[不没非无未])$")
SHARED_RUN = 3  # Chinese characters a phrase must share with the span for its negation to be compared
SCOPE, SCOPE_LATIN = 8, 24
NEAR_COPY = 0.6  # a span clause holding this share of a claim clause's words is a near copy of it


def negated_positions(norm: str) -> list[bool]:
    """For each character of normalised text: whether a negation governs it: one comes before it in
    the same clause, close enough to govern the words it negates (SCOPE characters of Chinese,
    SCOPE_LATIN of English), not the whole rest of a restructured sentence."""
    ignored = {i for m in _NOT_NEGATIONS.finditer(norm) for i in range(m.start(), m.end())}
    breaks = sorted({m.start() for m in CLAUSE_BREAK.finditer(norm)} | {len(norm)})
    marks = [False] * len(norm)
    for match in _NEGATION.finditer(norm):
        if match.start() in ignored:
            continue
        reach = SCOPE_LATIN if norm[match.start()].isascii() else SCOPE
        end = min(next(b for b in breaks if b >= match.end()), match.end() + reach)
        for i in range(match.end(), end):
            marks[i] = not marks[i]  # a second negation in the clause cancels the first
    return marks


def negation_count(norm: str) -> int:
    """How many negations ``norm`` makes (words like 不断 or 非常 not counted)."""
    ignored = {m.start() for m in _NOT_NEGATIONS.finditer(norm)}
    return sum(1 for m in _NEGATION.finditer(norm) if m.start() not in ignored)


def _polar_units(norm: str) -> list[tuple[str, bool]]:
    marks = negated_positions(norm)
    units = []
    for run in CJK_RUN.finditer(norm):
        for i in range(run.start(), run.end() - 1):
            gram = norm[i : i + 2]
            if not _NEGATION.match(gram[0]) and not _NEGATION.match(gram[1]):
                units.append((gram, marks[i]))
    units += [(stem(m.group()), marks[m.start()]) for m in LATIN_WORD.finditer(norm) if len(m.group()) > 2]
    return units


@cache
def _word_start(word: str) -> re.Pattern[str]:
    return re.compile(rf"\b{re.escape(word)}")


def _uses(text: str, words: frozenset[str], latin_only: bool = False) -> str | None:
    for word in sorted(words):
        if CJK_RUN.match(word):
            if not latin_only and word in text:
                return word
        elif word in text and _word_start(word).search(text):
            return word
    return None


def _opposites(claim: str, span: str, latin_claim: bool = False) -> list[tuple[str, str]]:
    found = []
    for one, other in _OPPOSITES:
        for mine, theirs in ((one, other), (other, one)):
            said, opposite = _uses(claim, mine, latin_claim), _uses(span, theirs)
            if said and opposite and not _uses(span, mine) and not _uses(claim, theirs):
                found.append((said, opposite))
    return found


@dataclass(frozen=True)
class Reversal:
    """How a claim reverses a span: shared words with flipped negation, opposite words."""

    flips: int
    shared: int
    opposites: list[tuple[str, str]]
    negated_clauses: int = 0  # claim clauses that one negation sets apart from a near copy in the span


def _clause_units(text: str) -> list[tuple[str, set[str]]]:
    return [(c, {u for u, _ in _polar_units(c)}) for c in CLAUSE_BREAK.split(text) if c and c.strip()]


def reversal(claim: str, span: str, cross_lingual: bool) -> Reversal:
    """Compare normalised ``claim`` with its best-matching normalised ``span`` clause by clause.
    Each claim clause is set against the span's clauses that share two or more of its words: a
    word's negation is compared with the one it has in the most similar such clause that holds
    it; opposites are looked for in all of them (cross-lingual: the claim's English opposites
    against the whole span)."""
    if cross_lingual:
        return Reversal(0, 0, _opposites(claim, span, latin_claim=True))
    flips = shared = negated_clauses = 0
    opposites: list[tuple[str, str]] = []
    span_clauses = _clause_units(span)
    for mine, units in _clause_units(claim):
        near = sorted(((len(units & theirs), clause) for clause, theirs in span_clauses), reverse=True)
        if near and len(units) >= 3 and near[0][0] >= NEAR_COPY * len(units):
            negated_clauses += negation_count(mine) % 2 != negation_count(near[0][1]) % 2
        near = [clause for overlap, clause in near if overlap >= 2]
        polarities = []  # for each near clause, best first: unit -> the polarities it has there
        for clause in near:
            seen: dict[str, set[bool]] = defaultdict(set)
            for unit, negated in _polar_units(clause):
                seen[unit].add(negated)
            polarities.append(seen)
        for unit, negated in _polar_units(mine):
            there = next((seen[unit] for seen in polarities if unit in seen), None)
            if there is not None:
                shared += 1
                flips += negated not in there
        for clause in near:
            opposites += [pair for pair in _opposites(mine, clause) if pair not in opposites]
    opposites = [(a, b) for a, b in opposites if a not in span and b not in claim]
    return Reversal(flips, shared, opposites, negated_clauses)


def _shared_runs(claim: str, span: str) -> list[tuple[int, str]]:
    """(position, phrase): the claim's longest runs of Chinese characters that ``span`` also holds,
    SHARED_RUN characters or more, left to right."""
    runs = []
    for run in CJK_RUN.finditer(claim):
        text, i = run.group(), 0
        while i + SHARED_RUN <= len(text):
            j = i + SHARED_RUN
            if text[i:j] not in span:
                i += 1
                continue
            while j < len(text) and text[i : j + 1] in span:
                j += 1
            runs.append((run.start() + i, text[i:j]))
            i = j
    return runs


def dropped_negations(claim: str, span: str, sources: str) -> list[str]:
    """Phrases the normalised claim shares with its best-matching ``span`` that the cited
    ``sources`` only ever say right after a negation (并非完全正相关, 不具备逻辑推理), while the claim
    says them with no negation near (完全正相关): the claim drops the sources' negation."""
    dropped = []
    for at, phrase in _shared_runs(claim, span):
        said = [m.start() for m in re.finditer(re.escape(phrase), sources)]
        negated_there = all(_NEGATION_BEFORE.search(sources, max(0, o - 3), o) for o in said)
        end = at + len(phrase)
        negated_here = _NEGATION.search(claim, max(0, at - 4), at) or _NEGATION.search(claim, end, end + 2)
        if said and negated_there and not negated_here:
            dropped.append(phrase)
    return dropped
