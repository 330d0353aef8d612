"""Report section 8: citation checking (see bench/verify.py)."""

from __future__ import annotations

from typing import Any

_CHECKERS = {
    "overlap": "word overlap (baseline)",
    "dense": "dense similarity (baseline)",
    "shipped": "`check_citations` (shipped)",
}
_SUPPORTED = ("copied", "reworded", "two_source", "partial_quote")


def _f(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _overall_table(half: dict[str, Any]) -> list[str]:
    lines = [
        "| checker | claims | accuracy | precision | recall | F1 | Chinese acc. | English acc. |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, label in _CHECKERS.items():
        o, lang = half[key]["overall"], half[key]["languages"]
        lines.append(
            f"| {label} | {o['n']} | {_f(o['accuracy'])} | {_f(o['precision'])} | {_f(o['recall'])} | "
            f"{_f(o['f1'])} | {_f(lang['zh']['accuracy'])} ({lang['zh']['n']}) | "
            f"{_f(lang['en']['accuracy'])} ({lang['en']['n']}) |"
        )
    return lines


def _kind_table(half: dict[str, Any]) -> list[str]:
    lines = [
        "| kind | items | " + " | ".join(f"{label}: right" for label in _CHECKERS.values()) + " |",
        "|---|---:|" + "---:|" * len(_CHECKERS),
    ]
    for kind, row in half["shipped"]["kinds"].items():
        cells = [_f(half[key]["kinds"].get(kind, {}).get("accuracy")) for key in _CHECKERS]
        label = kind + (" (supported)" if kind in _SUPPORTED else " (no claim)" if kind == "no_claim" else "")
        lines.append(f"| {label} | {row['n']} | " + " | ".join(cells) + " |")
    return lines


def _latency_lines(lat: dict[str, Any]) -> list[str]:
    a, s = lat["answer"], lat["sentence"]
    words, embedded = lat["answer_words_only"], lat["answer_with_embedder"]
    everything = lat["embedding_everything_per_answer"]
    return [
        f"{lat['answers']} answers of {lat['sentences_per_answer']} sentences over four sources of "
        f"{lat['mean_source_chars']:.0f} characters on average, `check_citations` called cold each time (no "
        "embedding cache):",
        "",
        "| | median ms | p95 ms | answers |",
        "|---|---:|---:|---:|",
        f"| per answer | {a['p50_ms']:.1f} | {a['p95_ms']:.1f} | {a['n']} |",
        f"| per sentence | {s['p50_ms']:.1f} | {s['p95_ms']:.1f} | {s['n']} |",
        f"| answers decided by words alone (no embedder call) | {words['p50_ms']:.1f} | {words['p95_ms']:.1f} | "
        f"{words['n']} |",
        f"| answers with a claim that needed the embedder (in another language than its sources) | "
        f"{embedded['p50_ms']:.1f} | {embedded['p95_ms']:.1f} | {embedded['n']} |",
        f"| for comparison: embedding every claim and source sentence | {everything['p50_ms']:.1f} | "
        f"{everything['p95_ms']:.1f} | {everything['n']} |",
    ]


def _set_lines(name: str, s: dict[str, Any]) -> list[str]:
    held, t = s["halves"]["held_out"], s["thresholds"]
    shipped = held["shipped"]["overall"]
    return [
        f"### {name}: held-out half ({s['items']['held_out']} items)",
        "",
        f"Shipped checker: precision {_f(shipped['precision'])}, recall {_f(shipped['recall'])}. Baseline "
        f"thresholds fitted on this set's calibration half: word overlap {t['overlap']:.3f}, dense {t['dense']:.3f}.",
        "",
        *_overall_table(held),
        "",
        "Per kind, the share judged right (for an unsupported kind that is its recall, for a supported kind "
        "one minus its false-flag rate; no-claim sentences are right when given no verdict, and only the "
        "shipped checker judges them):",
        "",
        *_kind_table(held),
        "",
        f"### {name}: calibration half ({s['items']['calibration']} items, where the constants were fitted: "
        "optimistic)",
        "",
        *_overall_table(s["halves"]["calibration"]),
        "",
        *_kind_table(s["halves"]["calibration"]),
        "",
    ]


def verify_section(v: dict[str, Any], plots: dict[str, str]) -> list[str]:
    """Held-out and calibration figures of the three checkers per labelled set, the goal, the
    model, latency."""
    goal, sets = v["goal"], v["sets"]
    met = "**met**" if goal["met"] else "**not met**"
    beats = "beats" if goal["beats_overlap"] else "**does not beat**"
    smoke = (
        ["**Smoke run (--quick): 10 items per half, hashing embedder; not the real figures.**", ""]
        if v["quick"]
        else []
    )
    held = {name: s["halves"]["held_out"]["shipped"]["overall"] for name, s in sets.items()}
    lines = [
        *smoke,
        "Four labelled sets, bench/verify_set.jsonl (set 1), bench/verify_set_2.jsonl (set 2), "
        "bench/verify_set_3.jsonl (set 3) and bench/verify_set_4.jsonl (set 4; 2, 3 and 4 written later and blind "
        "by other engineers), each split by "
        "the SHA-256 of each id into a calibration half and a held-out half before any result was seen "
        "(bench/verify_data.py). Every constant was fitted on calibration halves: the checker's on every set's "
        "by bench/verify_fit.py, each baseline's threshold on its set's by this part "
        f"(embedder {v['embedder']}). Positive class = unsupported: precision is the share of "
        "flagged sentences that are unsupported, recall the share of unsupported sentences flagged. Claims only "
        "(no-claim sentences have no label to flag).",
        "",
        f"Goal on every held-out half: precision ≥ {goal['precision']} and recall ≥ {goal['recall']}: {met} ("
        + "; ".join(f"{name}: precision {_f(o['precision'])}, recall {_f(o['recall'])}" for name, o in held.items())
        + f"); the checker {beats} word overlap on accuracy on every set.",
        "",
    ]
    for name, s in sets.items():
        lines += _set_lines(name.capitalize(), s)
    lines += [
        "### The shipped model",
        "",
        "Logistic regression over rag/verify/features.py's features (weights in the features' own units; 0 = "
        f"left out by the sign constraint), bias {v['model']['bias']:.3f}, threshold {v['shipped_threshold']:.3f}; "
        "a decisive sign (same language: a number or name in none of the cited sources, a fact swapped, an "
        "opposite word, a near copy with two terms exchanged, a "
        "negation or a number replaced; across languages: a number, an "
        "opposite word) caps the score at half the threshold.",
        "",
        "| feature | weight |",
        "|---|---:|",
        *(f"| {name} | {weight:+.3f} |" for name, weight in v["model"]["weights"].items()),
        "",
        "### Latency",
        "",
        *_latency_lines(v["latency"]),
        "",
        f"Load average at start and end of the part: {v['load_average']['start']} / {v['load_average']['end']}.",
    ]
    return lines
