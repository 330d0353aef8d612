"""Part 5, context packing: source tokens that fit with ``pack`` versus naive top-k concatenation.

Every question of the question sets is asked after HISTORY_TURNS earlier turns whose answers are
long passages of the corpus. Candidates come from the default retrieval settings on the shared
corpus. Token counts are ChatGLM2-6B's own (its tokenizer.model, its chat prompt format). The
naive baseline sends the top-k retrieved chunks, the same history turns and the question in the
same template, unpacked; it overflows when the prompt leaves less than ``max_new_tokens`` for the
answer (and hard-overflows when the prompt alone exceeds the window). Its usable source tokens
count as zero when it overflows: the model would truncate or reject the prompt.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from langchain_core.messages import HumanMessage

from bench.cache import cached_embedders
from bench.common import CHATGLM2_TOKENIZER, CORPUS, RunOptions, load_average, write_json
from bench.quality import load_question_sets
from bench.tokenizer import chatglm2_counting_handle
from ingest import pipeline
from ingest.embeddings import get_embedder
from rag.config import Settings
from rag.context import pack
from rag.prompts import build_messages, render_source
from rag.retrieve import Retriever
from rag.types import Citation

WINDOWS = (4096, 8192)
TOP_KS = (4, 8)
HISTORY_TURNS = 4
ANSWER_CHARS = (600, 1200)


def _history(corpus_text: str, questions: list[str], index: int, rng: np.random.Generator) -> list[tuple[str, str]]:
    turns = []
    for back in range(HISTORY_TURNS, 0, -1):
        length = int(rng.integers(*ANSWER_CHARS))
        start = int(rng.integers(0, len(corpus_text) - length))
        turns.append((questions[(index - back) % len(questions)], corpus_text[start : start + length]))
    return turns


def _mean(values: list[float]) -> float:
    return round(float(np.mean(values)), 1) if values else 0.0


def _measure(
    retriever: Retriever, handle: Any, questions: list[str], histories: list[list[tuple[str, str]]]
) -> dict[str, Any]:
    """pack() and the naive prompt for every question, at one window and top-k."""
    settings = retriever.settings
    window = handle.context_window
    budget = window - settings.max_new_tokens
    empty = handle.count_prompt([HumanMessage("")])

    def tokens(text: str) -> int:
        return max(0, handle.count_prompt([HumanMessage(text)]) - empty)

    packed: dict[str, list[float]] = {k: [] for k in ("source", "total", "used", "dropped", "turns")}
    naive: dict[str, list[float]] = {k: [] for k in ("source", "total", "usable")}
    overflow = hard_overflow = pack_over = 0
    for question, history in zip(questions, histories, strict=True):
        candidates = retriever.search(question)
        report = pack(question, history, candidates, handle, settings).report
        pack_over += report.total_tokens > budget
        for key, value in zip(
            ("source", "total", "used", "dropped", "turns"),
            (
                report.source_tokens,
                report.total_tokens,
                report.sources_used,
                report.sources_dropped,
                report.history_turns_used,
            ),
            strict=True,
        ):
            packed[key].append(value)
        sources = [Citation(i, c.chunk, c.score) for i, c in enumerate(candidates, start=1)]
        total = handle.count_prompt(build_messages(sources, history, question))
        source_tokens = sum(tokens(render_source(c.number, c.chunk.location, c.chunk.text)) for c in sources)
        overflow += total > budget
        hard_overflow += total > window
        naive["source"].append(source_tokens)
        naive["total"].append(total)
        naive["usable"].append(0 if total > budget else source_tokens)
    n = len(questions)
    return {
        "window": window,
        "top_k": settings.top_k,
        "budget": budget,
        "pack": {
            "mean_source_tokens": _mean(packed["source"]),
            "mean_total_tokens": _mean(packed["total"]),
            "mean_sources_used": _mean(packed["used"]),
            "mean_sources_dropped": _mean(packed["dropped"]),
            "mean_history_turns_kept": _mean(packed["turns"]),
            "over_budget": pack_over,
        },
        "naive": {
            "mean_source_tokens": _mean(naive["source"]),
            "mean_total_tokens": _mean(naive["total"]),
            "mean_usable_source_tokens": _mean(naive["usable"]),
            "overflow": overflow,
            "overflow_rate": round(overflow / n, 3),
            "hard_overflow_rate": round(hard_overflow / n, 3),
        },
    }


def run(opts: RunOptions) -> dict[str, Any]:
    """Pack every question at every window and top-k; writes packing.json and returns its content."""
    spec = "hashing" if opts.quick else Settings().embedder
    kb_settings = Settings(data_dir=opts.work / "packing", embedder=spec)
    questions = [q.q for q in load_question_sets()]
    if opts.quick:
        questions = questions[:10]
    corpus_text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(CORPUS.iterdir()))
    rng = np.random.default_rng(11)
    histories = [_history(corpus_text, questions, i, rng) for i in range(len(questions))]
    started_load = load_average()
    rows: dict[str, Any] = {}
    with cached_embedders([] if spec == "hashing" else [spec]):
        pipeline.build_from_folder(kb_settings, "packing", CORPUS)
        kb = pipeline.open_kb(kb_settings, "packing")
        try:
            for window in WINDOWS:
                handle = chatglm2_counting_handle(CHATGLM2_TOKENIZER, window)
                for top_k in TOP_KS:
                    settings = kb_settings.model_copy(update={"top_k": top_k, "context_window": window})
                    retriever = Retriever(kb, get_embedder(spec), settings)
                    rows[f"{window}/top{top_k}"] = _measure(retriever, handle, questions, histories)
        finally:
            kb.close()
    result = {
        "quick": opts.quick,
        "questions": len(questions),
        "history_turns": HISTORY_TURNS,
        "history_answer_chars": list(ANSWER_CHARS),
        "max_new_tokens": kb_settings.max_new_tokens,
        "tokenizer": chatglm2_counting_handle(CHATGLM2_TOKENIZER, WINDOWS[0]).tokenizer_name,
        "chunk_size": kb_settings.chunk_size,
        "embedder": spec,
        "rows": rows,
        "load_average": {"start": started_load, "end": load_average()},
    }
    write_json(opts.out / "packing.json", result)
    return result
