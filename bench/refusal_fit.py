"""Fitting refusal thresholds on the calibration half and scoring a rule on either half.

A rule refuses a question when a signal is below its cut. The cut for one signal is the highest
that refuses at most MAX_REFUSED_SHARE of the calibration half's answerable questions (a margin
under the 5 % goal, since 55 questions make a noisy estimate), placed midway between that
answerable question's value and the next lower calibration value, so it sits between items.
Cuts are fitted per slice (rag.answerable.question_slice: Chinese, English, Chinese questions whose
sources are English; e5 cosines run lower for English text), each on its own calibration rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

MAX_REFUSED_SHARE = 0.02
GOAL_FALSE_REFUSALS = 0.05
WORD_WEIGHTS = tuple(round(0.01 * i, 2) for i in range(16))  # 0 .. 0.15
SLICES = ("zh", "en", "zh_en")  # Chinese questions, Chinese sources; English questions; Chinese on English sources

Row = dict[str, Any]  # one question: "group", "half", "signals"


def _value(row: Row, signal: str) -> float:
    return float(row["signals"].get(signal, 0.0))


def allowed_refusals(rows: Sequence[Row]) -> int:
    """How many calibration answerable questions a fitted cut may refuse."""
    return math.floor(MAX_REFUSED_SHARE * sum(r["group"] == "answerable" for r in rows))


def _between(values: Sequence[float], cut: float) -> float:
    """``cut`` moved down to midway between it and the next lower of ``values`` (if any)."""
    below = [v for v in values if v < cut]
    return round((cut + max(below)) / 2, 4) if below else cut


def fit_cut(rows: Sequence[Row], signal: str) -> float:
    """The cut for ``signal`` on the calibration rows ``rows`` (see the module docstring)."""
    answerable = sorted(_value(r, signal) for r in rows if r["group"] == "answerable")
    if not answerable:
        return 0.0
    highest = answerable[min(allowed_refusals(rows), len(answerable) - 1)]
    return _between([_value(r, signal) for r in rows], highest)


def slice_of(row: Row) -> str:
    """The row's slice as the shipped rule decides it (rag.answerable.question_slice): "zh", "en" or
    "zh_en" (a Chinese question whose retrieved sources are English)."""
    return str(row["slice"])


def weighted(row: Row, weight: float) -> float:
    """The shipped rule's score: the best cosine plus ``weight`` times the share of words found."""
    return _value(row, "dense") + weight * _value(row, "term_share")


def fit_weighted(rows: Sequence[Row]) -> tuple[float, float]:
    """(word weight, cut) for refusing when ``weighted`` is below the cut, on calibration rows of one
    language: for each weight the cut as fit_cut places it; the weight whose cut refuses the most
    unanswerable questions wins (ties: the smaller weight)."""
    best: tuple[int, float, float] | None = None
    for weight in WORD_WEIGHTS:
        scored = [{**r, "signals": {"score": weighted(r, weight)}} for r in rows]
        cut = fit_cut(scored, "score")
        caught = sum(r["group"] != "answerable" and r["signals"]["score"] < cut for r in scored)
        if best is None or caught > best[0]:
            best = (caught, weight, cut)
    return (0.0, 0.0) if best is None else (best[1], best[2])


def fit_both(rows: Sequence[Row], first: str, second: str) -> tuple[float, float]:
    """Cuts for refusing when either signal is below its own: the pair of calibration values that
    refuses the most unanswerable questions within the allowed refusals (ties: lower cuts), each
    then placed between items like fit_cut's."""
    limit = allowed_refusals(rows)
    values = {s: np.array([_value(r, s) for r in rows]) for s in (first, second)}
    answerable = np.array([r["group"] == "answerable" for r in rows])
    best: tuple[int, float, float] | None = None
    for a in np.unique(values[first]):
        for b in np.unique(np.r_[0.0, values[second]]):
            refused = (values[first] < a) | (values[second] < b)
            if (refused & answerable).sum() > limit:
                continue
            caught = int((refused & ~answerable).sum())
            if best is None or caught > best[0]:
                best = (caught, float(a), float(b))
    if best is None:
        return 0.0, 0.0
    return _between(values[first].tolist(), best[1]), _between(values[second].tolist(), best[2])


def rates(rows: Sequence[Row], refused: Sequence[bool]) -> dict[str, Any]:
    """False refusals of answerable questions, false answers of near and far unanswerable ones."""
    wrong = [no if row["group"] == "answerable" else not no for row, no in zip(rows, refused, strict=True)]
    out: dict[str, Any] = {}
    for key, groups in (
        ("false_refusal", {"answerable"}),
        ("false_answer_near", {"near"}),
        ("false_answer_far", {"far"}),
        ("false_answer", {"near", "far"}),
    ):
        flags = [w for row, w in zip(rows, wrong, strict=True) if row["group"] in groups]
        out[key] = round(sum(flags) / len(flags), 4) if flags else None
        out[f"{key}_count"] = f"{sum(flags)}/{len(flags)}"
    return out


def by_half(rows: Sequence[Row], refused: Sequence[bool]) -> dict[str, dict[str, Any]]:
    """``rates`` for each half."""
    return {
        half: rates(
            [r for r in rows if r["half"] == half], [f for r, f in zip(rows, refused, strict=True) if r["half"] == half]
        )
        for half in ("calibration", "held_out")
    }
