"""Part refusal: when does the knowledge base hold no answer, and extractive answers before/after.

Three knowledge bases are built by the real pipeline with the shipped settings (the bench cache
keeps the embeddings): the Chinese shared corpus, the shipped guide (data/sample) and the Click
docs. Every labelled question (bench/refusal_data.py: Chinese and English sets, answerable, near
and far unanswerable, each split into calibration and held-out halves by a hash of its text) is
retrieved from its own knowledge base by the real ``Retriever.search``, and rag.answerable
measures its signals. For each signal alone, for dense and words together, and for dense plus a
weight times words, cuts are fitted per slice (rag.answerable.question_slice) on its calibration half
(bench/refusal_fit.py); false refusals and false answers are reported per slice (Chinese, English,
Chinese on English docs) and half, for the fitted cuts, the previous single cut and the shipped
rule (``rag.answerable.judge`` with the default settings). Then the extractive backend answers
every answerable question from its packed sources, before and after the quoting change
(bench/refusal_extractive.py). ``--quick``: the hashing embedder and four questions per set, group
and half.
"""

from __future__ import annotations

from typing import Any

from bench.cache import cached_embedders
from bench.common import RunOptions, load_average, stopwatch, write_json
from bench.refusal_data import GROUPS, KB_FOLDERS, LabelledQuestion, load_labelled, quick_subset
from bench.refusal_extractive import answer_rows, quality, timing
from bench.refusal_fit import (
    GOAL_FALSE_REFUSALS,
    MAX_REFUSED_SHARE,
    SLICES,
    by_half,
    fit_both,
    fit_cut,
    fit_weighted,
    slice_of,
    weighted,
)
from ingest import pipeline
from ingest.embeddings import embedder_id, get_embedder
from rag import answerable
from rag.config import Settings
from rag.context import pack
from rag.language import language
from rag.llm.extractive import extractive_handle
from rag.prompts import message_text, parse_user_turn
from rag.retrieve import Retriever

SIGNALS = ("dense", "term_share", "bm25", "fused")
QUICK_PER_GROUP_HALF = 4
# The rule before per-language cuts (one cut for every question, fitted on the Chinese set alone).
PREVIOUS_DENSE_CUT = 0.8761


def _by_slice(rows: list[dict[str, Any]], refused: list[bool]) -> dict[str, dict[str, Any]]:
    """``by_half`` for each slice (refusal_fit.SLICES) that has rows."""
    out = {}
    for name in SLICES:
        chosen = [i for i, r in enumerate(rows) if slice_of(r) == name]
        if chosen:
            out[name] = by_half([rows[i] for i in chosen], [refused[i] for i in chosen])
    return out


def _per_slice(rows: list[dict[str, Any]], fit: Any, refuses: Any) -> dict[str, Any]:
    """A rule fitted per slice on that slice's calibration rows: its cuts and its rates."""
    cuts = {}
    for name in SLICES:
        calibration = [r for r in rows if r["half"] == "calibration" and slice_of(r) == name]
        if calibration:
            cuts[name] = fit(calibration)
    refused = [bool(refuses(r, cuts.get(slice_of(r), cuts.get(r["lang"])))) for r in rows]
    return {"cuts": cuts, "slices": _by_slice(rows, refused)}


def _rules(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each rule's cuts (fitted on calibration, per slice) and its rates per slice and half."""
    rules: dict[str, dict[str, Any]] = {
        "previous": {
            "cuts": {"all": {"dense": PREVIOUS_DENSE_CUT}},
            "slices": _by_slice(rows, [r["signals"].get("dense", 0.0) < PREVIOUS_DENSE_CUT for r in rows]),
        }
    }
    for signal in SIGNALS:
        rules[signal] = _per_slice(
            rows,
            lambda cal, s=signal: {s: fit_cut(cal, s)},
            lambda r, cut, s=signal: r["signals"].get(s, 0.0) < cut[s],
        )
    rules["dense_and_words"] = _per_slice(
        rows,
        lambda cal: dict(zip(("dense", "term_share"), fit_both(cal, "dense", "term_share"), strict=True)),
        lambda r, cut: r["signals"].get("dense", 0.0) < cut["dense"] or r["signals"]["term_share"] < cut["term_share"],
    )
    rules["weighted"] = _per_slice(
        rows,
        lambda cal: dict(zip(("word_weight", "cut"), fit_weighted(cal), strict=True)),
        lambda r, cut: weighted(r, cut["word_weight"]) < cut["cut"],
    )
    rules["shipped"] = {
        "cuts": {
            lang: {"word_weight": cut.word_weight, "cut": cut.threshold}
            for lang, cut in answerable.DENSE_CUTS.get(embedder_id(Settings().embedder), {}).items()
        },
        "slices": _by_slice(rows, [r["shipped_refused"] for r in rows]),
    }
    return rules


def _judged(retrievers: dict[str, Retriever], questions: list[LabelledQuestion], settings: Settings) -> tuple:
    """Signal rows for every question (asked of its own knowledge base), and (question, needles,
    half, packed sources) per answerable one."""
    handle = extractive_handle(settings)
    rows, cases = [], []
    for question in questions:
        results = retrievers[question.kb].search(question.q)
        verdict = answerable.judge(question.q, results, settings)
        rows.append(
            {
                "q": question.q,
                "set": question.set,
                "kb": question.kb,
                "origin": question.origin,
                "lang": language(question.q),
                "slice": answerable.question_slice(question.q, results),
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
    kbs = sorted({q.kb for q in questions})
    with cached_embedders([] if spec == "hashing" else [spec]) as cache, stopwatch() as took:
        for name in kbs:
            report = pipeline.build_from_folder(settings, name, KB_FOLDERS[name])
            if report.failed:
                raise RuntimeError(f"building {name} failed for {report.failed}")
        opened = {name: pipeline.open_kb(settings, name) for name in kbs}
        try:
            embedder = get_embedder(spec)
            retrievers = {name: Retriever(kb, embedder, settings) for name, kb in opened.items()}
            rows, cases = _judged(retrievers, questions, settings)
            answers = answer_rows(cases, embedder)
        finally:
            for kb in opened.values():
                kb.close()
    real = cache[spec].inner if spec in cache else get_embedder(spec)
    rules = _rules(rows)
    held = {name: part["held_out"] for name, part in rules["shipped"]["slices"].items()}
    result = {
        "quick": opts.quick,
        "embedder": real.name,
        "questions": {
            name: {g: sum(slice_of(r) == name and r["group"] == g for r in rows) for g in GROUPS} for name in SLICES
        },
        "halves": {h: sum(r["half"] == h for r in rows) for h in ("calibration", "held_out")},
        "max_refused_share": MAX_REFUSED_SHARE,
        "rules": rules,
        "shipped_constants": {
            "dense": {e: {lang: vars(cut) for lang, cut in cuts.items()} for e, cuts in answerable.DENSE_CUTS.items()},
            "term_share": answerable.TERM_SHARE_THRESHOLD,
        },
        "goal": {
            "false_refusal_under": GOAL_FALSE_REFUSALS,
            "met": all(
                held[name]["false_refusal"] is not None and held[name]["false_refusal"] <= GOAL_FALSE_REFUSALS
                for name in SLICES
                if name in held
            ),
        },
        "extractive": {"quality": quality(answers), "seconds_per_answer": timing(cases, real)},
        "seconds": round(took[0], 1),
        "rows": rows,
        "answers": answers,
        "load_average": {"start": started_load, "end": load_average()},
    }
    write_json(opts.out / "refusal.json", result)
    return result
