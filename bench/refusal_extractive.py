"""Extractive answers before and after this change, on the answerable questions, in one run.

*before*: the backend as it was (commit 7cb0389): every sentence but a source's heading may be
quoted, questions included, ranked by words alone. *words*: the shipped backend without an
embedder (keyword-only retrieval). *after*: the shipped backend with the configured embedder.
All three read the same packed sources. A quoted sentence is a question when
rag.llm.quotable.is_question says so (a "问：" / "Q:" line or a sentence ending in ？/?).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any

from bench.common import percentiles
from ingest.embeddings import Embedder
from rag.llm.extractive import NOT_FOUND_EN, NOT_FOUND_ZH, extract_answer, quote, word_scores
from rag.llm.quotable import Quotable, is_heading, is_question, split_sentences
from rag.verify import check_citations

VARIANTS = ("before", "words", "after")
TIMED_ANSWERS = 20
_MARKER = re.compile(r"\s*\[\d+\]$")

Case = tuple[str, tuple[str, ...], str, dict[int, str]]  # question, needles, half, packed sources


def extract_before(sources: dict[int, str], question: str) -> list[str]:
    """The previous backend's answer: any sentence but a heading, by idf-weighted word overlap."""
    sentences = [
        Quotable(number, position, sentence)
        for number in sorted(sources)
        for position, sentence in enumerate(split_sentences(sources[number]))
        if not (position == 0 and is_heading(sentence))
    ]
    return quote(sentences, word_scores(question, [s.text for s in sentences]), question)


def quoted_sentences(answer: str) -> list[str]:
    """The sentences an extractive answer quotes, without their markers."""
    if answer in (NOT_FOUND_ZH, NOT_FOUND_EN):
        return []
    return [_MARKER.sub("", piece.strip()) for piece in answer.split("\n\n") if piece.strip()]


def _answers(case: Case, embedder: Embedder) -> dict[str, str]:
    question, _, _, sources = case
    return {
        "before": "".join(extract_before(sources, question)),
        "words": "".join(extract_answer(sources, question)),
        "after": "".join(extract_answer(sources, question, embedder)),
    }


def _supported(answer: str, sources: dict[int, str], embedder: Embedder) -> tuple[int, int]:
    claims = [v for v in check_citations(answer, sources, embedder) if v.supported is not None]
    return sum(bool(v.supported) for v in claims), len(claims)


def answer_rows(cases: Sequence[Case], embedder: Embedder) -> list[dict[str, Any]]:
    """Each question's three answers, whether each holds a needle, quotes a question, and how many
    of its claims check_citations finds supported."""
    rows = []
    for case in cases:
        question, needles, half, sources = case
        row: dict[str, Any] = {"q": question, "half": half}
        for variant, answer in _answers(case, embedder).items():
            supported, claims = _supported(answer, sources, embedder)
            row[variant] = {
                "answer": answer,
                "needle": any(n in answer for n in needles),
                "quotes_question": any(is_question(s) for s in quoted_sentences(answer)),
                "claims": claims,
                "supported": supported,
            }
        rows.append(row)
    return rows


def quality(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per half and variant: share of answers holding a needle, quoting a question, and claims supported."""
    out: dict[str, dict[str, Any]] = {}
    for half in ("calibration", "held_out", "all"):
        chosen = [r for r in rows if half in ("all", r["half"])]
        out[half] = {"answers": len(chosen)}
        for variant in VARIANTS:
            parts = [r[variant] for r in chosen]
            claims = sum(p["claims"] for p in parts)
            out[half][variant] = {
                "needle": round(sum(p["needle"] for p in parts) / max(len(parts), 1), 4),
                "quotes_question": round(sum(p["quotes_question"] for p in parts) / max(len(parts), 1), 4),
                "claims_supported": round(sum(p["supported"] for p in parts) / claims, 4) if claims else None,
                "claims": claims,
            }
    return out


def timing(cases: Sequence[Case], embedder: Embedder) -> dict[str, Any]:
    """Seconds per answer with the embedder itself (no cache) and by words alone."""
    timed = [c for c in cases if c[2] == "held_out"][:TIMED_ANSWERS] or list(cases[:TIMED_ANSWERS])
    extract_answer(timed[0][3], timed[0][0], embedder)  # warm-up: jieba's dictionary, the embedder
    with_embedder, words = [], []
    for question, _, _, sources in timed:
        started = time.perf_counter()
        extract_answer(sources, question, embedder)
        with_embedder.append(time.perf_counter() - started)
        started = time.perf_counter()
        extract_answer(sources, question)
        words.append(time.perf_counter() - started)
    return {"with_embedder": percentiles(with_embedder), "words_only": percentiles(words)}
