"""The questions the refusal rule is fitted and measured on, split once by a hash of their text.

Two question sets, each asked of its own knowledge base:

- *zh*: the Chinese shared corpus (``corpus``). Answerable: the shared dev questions and
  bench/questions.jsonl (each with needles, text a correct retrieval contains). Unanswerable:
  bench/unanswerable_questions.jsonl, written blind by another engineer, "near" (about a topic of
  the corpus, asking for a fact it does not hold) or "far".
- *en*: bench/refusal_en_questions.jsonl (answerable, about the English parts of the shipped user
  guide, ``sample`` = data/sample, and the English Click docs, ``click``; a few of them Chinese
  questions about the Click docs: cross-lingual) and bench/refusal_en_unanswerable.jsonl (near and
  far, English), written before any retrieval score was seen; and a second pair written later by
  another engineer who saw neither the first pair nor any result (bench/refusal_en_questions_2.jsonl,
  bench/refusal_en_unanswerable_2.jsonl); and a pair of Chinese questions about the Click docs,
  answerable and not, written blind the same way (bench/refusal_zh_en_questions.jsonl,
  bench/refusal_zh_en_unanswerable.jsonl): cross-lingual.

Each (set, group) is ordered by the SHA-256 of the question and cut in two: the first half is the
*calibration* half (every fitted constant comes from it), the second the *held-out* half (only
reported on). The split was fixed before any result was looked at. Each later pair is split on its
own, so adding it moved no question of an earlier pair to the other half.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from bench.common import BENCH_QUESTIONS, CLICK_DOCS, CORPUS, DEV_QUESTIONS, REPO, SAMPLE_GUIDE

UNANSWERABLE_QUESTIONS = REPO / "bench" / "unanswerable_questions.jsonl"
EN_QUESTIONS = REPO / "bench" / "refusal_en_questions.jsonl"
EN_UNANSWERABLE = REPO / "bench" / "refusal_en_unanswerable.jsonl"
EN_PAIRS = (
    (EN_QUESTIONS, EN_UNANSWERABLE),
    (REPO / "bench" / "refusal_en_questions_2.jsonl", REPO / "bench" / "refusal_en_unanswerable_2.jsonl"),
    (REPO / "bench" / "refusal_zh_en_questions.jsonl", REPO / "bench" / "refusal_zh_en_unanswerable.jsonl"),
)
GROUPS = ("answerable", "near", "far")
HALVES = ("calibration", "held_out")
SETS = ("zh", "en")
KB_FOLDERS = {"corpus": CORPUS, "sample": SAMPLE_GUIDE, "click": CLICK_DOCS}


@dataclass(frozen=True)
class LabelledQuestion:
    """A question, whether its knowledge base answers it (``group``), its needles, half, set and kb."""

    q: str
    group: str
    needles: tuple[str, ...]
    half: str
    set: str = "zh"
    kb: str = "corpus"
    origin: str = ""  # the answerable questions' file of its pair (English: which pair it comes from)


Item = tuple[str, tuple[str, ...], str]  # question, needles, kb


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _halves(questions: list[Item], group: str, set_name: str, origin: str) -> list[LabelledQuestion]:
    ordered = sorted(questions, key=lambda item: hashlib.sha256(item[0].encode()).hexdigest())
    cut = (len(ordered) + 1) // 2
    return [
        LabelledQuestion(q, group, needles, HALVES[i >= cut], set_name, kb, origin)
        for i, (q, needles, kb) in enumerate(ordered)
    ]


def _split(
    answerable: list[Item], unanswerable: list[dict], set_name: str, kb: str | None, origin: str = ""
) -> list[LabelledQuestion]:
    near = [(str(r["q"]), (), kb or str(r["kb"])) for r in unanswerable if r.get("near")]
    far = [(str(r["q"]), (), kb or str(r["kb"])) for r in unanswerable if not r.get("near")]
    return [
        *_halves(answerable, "answerable", set_name, origin),
        *_halves(near, "near", set_name, origin),
        *_halves(far, "far", set_name, origin),
    ]


def load_labelled() -> list[LabelledQuestion]:
    """Every labelled question of both sets, calibration and held-out, answerable first per set."""
    zh = [
        (str(r["q"]), tuple(map(str, r["needles"])), "corpus")
        for p in (DEV_QUESTIONS, BENCH_QUESTIONS)
        for r in _rows(p)
    ]
    english = [
        question
        for answerable, unanswerable in EN_PAIRS
        for question in _split(
            [(str(r["q"]), tuple(map(str, r["needles"])), str(r["kb"])) for r in _rows(answerable)],
            _rows(unanswerable),
            "en",
            None,
            answerable.name,
        )
    ]
    english.sort(key=lambda question: GROUPS.index(question.group))  # stable: each pair's order kept
    return [*_split(zh, _rows(UNANSWERABLE_QUESTIONS), "zh", "corpus"), *english]


def missing_needles(questions: list[LabelledQuestion]) -> list[str]:
    """The answerable questions of the *en* set none of whose needles occurs verbatim in a file of
    their knowledge base (each a one-line reason); empty when every one has its text."""
    texts: dict[str, str] = {}
    missing = []
    for question in questions:
        if question.set != "en" or question.group != "answerable":
            continue
        if question.kb not in texts:
            files = sorted(p for p in KB_FOLDERS[question.kb].rglob("*") if p.is_file() and p.suffix != ".svg")
            texts[question.kb] = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in files)
        if not any(needle in texts[question.kb] for needle in question.needles):
            missing.append(f"{question.q!r}: none of {list(question.needles)} in {question.kb}")
    return missing


def quick_subset(questions: list[LabelledQuestion], per_group_half: int) -> list[LabelledQuestion]:
    """The first ``per_group_half`` questions of every (set, group, half): a smoke run's sample."""
    kept: list[LabelledQuestion] = []
    for set_name in SETS:
        for group in GROUPS:
            for half in HALVES:
                chosen = [q for q in questions if (q.set, q.group, q.half) == (set_name, group, half)]
                kept += chosen[:per_group_half]
    return kept
