"""Part refusal: when does the knowledge base hold no answer, and extractive answers before/after.

The shared corpus is built once by the real pipeline with the shipped settings (the bench cache
keeps the embeddings). Every labelled question (bench/refusal_data.py: answerable, near and far
unanswerable, each split into calibration and held-out halves by a hash of its text) is retrieved
by the real ``Retriever.search``, and rag.answerable measures its signals. For each signal alone,
and for dense and words together, a cut is fitted on the calibration half (bench/refusal_fit.py);
false refusals and false answers are reported on both halves, for the fitted cuts and for the
shipped rule (``rag.answerable.judge`` with the default settings). Then the extractive backend
answers every answerable question from its packed sources, before and after this change
(bench/refusal_extractive.py). ``--quick``: the hashing embedder and four questions per group and half.
"""

from __future__ import annotations

from typing import Any

from bench.cache import cached_embedders
from bench.common import CORPUS, RunOptions, load_average, stopwatch, write_json
from bench.refusal_data import LabelledQuestion, load_labelled, quick_subset
from bench.refusal_extractive import answer_rows, quality, timing
from bench.refusal_fit import GOAL_FALSE_REFUSALS, MAX_REFUSED_SHARE, by_half, fit_both, fit_cut
from ingest import pipeline
from ingest.embeddings import get_embedder
from rag import answerable
from rag.config import Settings
from rag.context import pack
from rag.llm.extractive import extractive_handle
from rag.prompts import message_text, parse_user_turn
from rag.retrieve import Retriever

SIGNALS = ("dense", "term_share", "bm25", "fused")
QUICK_PER_GROUP_HALF = 4


def _rules(rows: list[dict[str, Any]], settings: Settings) -> dict[str, dict[str, Any]]:
    """Each rule's cuts (fitted on calibration) and its rates on both halves."""
    calibration = [r for r in rows if r["half"] == "calibration"]
    rules: dict[str, dict[str, Any]] = {}
    for signal in SIGNALS:
        cut = fit_cut(calibration, signal)
        refused = [r["signals"].get(signal, 0.0) < cut for r in rows]
        rules[signal] = {"cuts": {signal: cut}, "halves": by_half(rows, refused)}
    dense_cut, words_cut = fit_both(calibration, "dense", "term_share")
    both = [r["signals"].get("dense", 0.0) < dense_cut or r["signals"]["term_share"] < words_cut for r in rows]
    rules["dense_and_words"] = {"cuts": {"dense": dense_cut, "term_share": words_cut}, "halves": by_half(rows, both)}
    signal, threshold = answerable.rule(settings)
    rules["shipped"] = {
        "cuts": {"dense" if signal == "dense" else "term_share": threshold},
        "halves": by_half(rows, [r["shipped_refused"] for r in rows]),
    }
    return rules


def _judged(retriever: Retriever, questions: list[LabelledQuestion], settings: Settings) -> tuple[list, list]:
    """Signal rows for every question, and (question, needles, half, packed sources) per answerable one."""
    handle = extractive_handle(settings)
    rows, cases = [], []
    for question in questions:
        results = retriever.search(question.q)
        verdict = answerable.judge(question.q, results, settings)
        rows.append(
            {
                "q": question.q,
                "group": question.group,
                "half": question.half,
                "signals": {k: round(v, 4) for k, v in verdict.signals.items()},
                "shipped_refused": not verdict.answerable,
            }
        )
        if question.group == "answerable":
            packed = pack(question.q, [], results, handle, settings)
            sources, _ = parse_user_turn(message_text(packed.messages[-1]))
            cases.append((question.q, question.needles, question.half, sources))
    return rows, cases


def run(opts: RunOptions) -> dict[str, Any]:
    """Build the corpus, judge every question, fit and score the rules, compare extractive answers."""
    started_load = load_average()
    questions = load_labelled()
    if opts.quick:
        questions = quick_subset(questions, QUICK_PER_GROUP_HALF)
    spec = "hashing" if opts.quick else Settings().embedder
    settings = Settings(data_dir=opts.work / "refusal", embedder=spec)
    with cached_embedders([] if spec == "hashing" else [spec]) as cache, stopwatch() as took:
        report = pipeline.build_from_folder(settings, "corpus", CORPUS)
        if report.failed:
            raise RuntimeError(f"building the corpus failed for {report.failed}")
        kb = pipeline.open_kb(settings, "corpus")
        try:
            embedder = get_embedder(spec)
            rows, cases = _judged(Retriever(kb, embedder, settings), questions, settings)
            answers = answer_rows(cases, embedder)
        finally:
            kb.close()
    real = cache[spec].inner if spec in cache else get_embedder(spec)
    rules = _rules(rows, settings)
    held = rules["shipped"]["halves"]["held_out"]
    result = {
        "quick": opts.quick,
        "embedder": real.name,
        "questions": {g: sum(r["group"] == g for r in rows) for g in ("answerable", "near", "far")},
        "halves": {h: sum(r["half"] == h for r in rows) for h in ("calibration", "held_out")},
        "max_refused_share": MAX_REFUSED_SHARE,
        "rules": rules,
        "shipped_constants": {"dense": answerable.DENSE_THRESHOLDS, "term_share": answerable.TERM_SHARE_THRESHOLD},
        "goal": {
            "false_refusal_under": GOAL_FALSE_REFUSALS,
            "met": held["false_refusal"] is not None and held["false_refusal"] < GOAL_FALSE_REFUSALS,
        },
        "extractive": {"quality": quality(answers), "seconds_per_answer": timing(cases, real)},
        "seconds": round(took[0], 1),
        "rows": rows,
        "answers": answers,
        "load_average": {"start": started_load, "end": load_average()},
    }
    write_json(opts.out / "refusal.json", result)
    return result
