"""Retrieval quality: recall@k and MRR@10 over questions with needle texts.

A question counts as found at rank r when one of its needles is a substring of the r-th chunk.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from rag.retrieve import Retriever

MRR_DEPTH = 10


@dataclass(frozen=True)
class EvalQuestion:
    q: str
    needles: list[str]


@dataclass(frozen=True)
class EvalResult:
    question: EvalQuestion
    rank: int | None  # 1-based rank of the first chunk holding a needle, within MRR_DEPTH


@dataclass
class EvalReport:
    k: int
    results: list[EvalResult]

    @property
    def hits(self) -> int:
        return sum(1 for r in self.results if r.rank is not None and r.rank <= self.k)

    @property
    def mrr(self) -> float:
        return sum(1 / r.rank for r in self.results if r.rank) / max(len(self.results), 1)

    def recall_at(self, k: int) -> float:
        return sum(1 for r in self.results if r.rank is not None and r.rank <= k) / max(len(self.results), 1)

    def summary(self) -> str:
        return f"recall@{self.k}={self.hits}/{len(self.results)} mrr@{MRR_DEPTH}={self.mrr:.3f}"


def load_questions(path: Path) -> list[EvalQuestion]:
    """Lines of {"q": ..., "needles": [...]}; blank lines are skipped, a bad line is an error naming it."""
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            questions.append(EvalQuestion(str(row["q"]), [str(n) for n in row["needles"]]))
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f'{path}:{number}: expected {{"q": ..., "needles": [...]}} ({error})') from error
    return questions


def first_hit(texts: list[str], needles: list[str]) -> int | None:
    """1-based rank of the first text containing any needle."""
    for rank, text in enumerate(texts, start=1):
        if any(needle in text for needle in needles):
            return rank
    return None


def evaluate(retriever: Retriever, questions: list[EvalQuestion], k: int) -> EvalReport:
    """Rank chunks for every question (unmerged, so ranks are chunk ranks) and score them."""
    depth = max(k, MRR_DEPTH)
    results = []
    for question in questions:
        texts = [r.chunk.text for r in retriever.ranked(question.q, depth)]
        results.append(EvalResult(question, first_hit(texts, question.needles)))
    return EvalReport(k, results)
