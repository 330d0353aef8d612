"""The questions the refusal rule is fitted and measured on, split once by a hash of their text.

Answerable: the shared dev questions and bench/questions.jsonl (each with needles, text a correct
retrieval contains). Unanswerable: bench/unanswerable_questions.jsonl, written blind by another
engineer, "near" (about a topic of the corpus, asking for a fact it does not hold) or "far".
Each of the three groups is ordered by the SHA-256 of the question and cut in two: the first half
is the *calibration* half (every fitted constant comes from it), the second the *held-out* half
(only reported on). The split was fixed before any result was looked at.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from bench.common import BENCH_QUESTIONS, DEV_QUESTIONS, REPO

UNANSWERABLE_QUESTIONS = REPO / "bench" / "unanswerable_questions.jsonl"
GROUPS = ("answerable", "near", "far")
HALVES = ("calibration", "held_out")


@dataclass(frozen=True)
class LabelledQuestion:
    """A question, whether the corpus answers it (``group``), its needles and its half."""

    q: str
    group: str
    needles: tuple[str, ...]
    half: str


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _halves(questions: list[tuple[str, tuple[str, ...]]], group: str) -> list[LabelledQuestion]:
    ordered = sorted(questions, key=lambda item: hashlib.sha256(item[0].encode()).hexdigest())
    cut = (len(ordered) + 1) // 2
    return [LabelledQuestion(q, group, needles, HALVES[i >= cut]) for i, (q, needles) in enumerate(ordered)]


def load_labelled() -> list[LabelledQuestion]:
    """Every labelled question, calibration and held-out, answerable first."""
    answerable = [
        (str(r["q"]), tuple(map(str, r["needles"]))) for p in (DEV_QUESTIONS, BENCH_QUESTIONS) for r in _rows(p)
    ]
    unanswerable = _rows(UNANSWERABLE_QUESTIONS)
    near = [(str(r["q"]), ()) for r in unanswerable if r.get("near")]
    far = [(str(r["q"]), ()) for r in unanswerable if not r.get("near")]
    return [*_halves(answerable, "answerable"), *_halves(near, "near"), *_halves(far, "far")]


def quick_subset(questions: list[LabelledQuestion], per_group_half: int) -> list[LabelledQuestion]:
    """The first ``per_group_half`` questions of every (group, half): a smoke run's sample."""
    kept: list[LabelledQuestion] = []
    for group in GROUPS:
        for half in HALVES:
            kept += [q for q in questions if q.group == group and q.half == half][:per_group_half]
    return kept
