"""Report section 11: saying "not in the sources", and extractive answers before/after (bench/refusal.py)."""

from __future__ import annotations

from typing import Any

_RULES = {
    "dense": "best raw cosine of a source (`dense`)",
    "term_share": "share of the question's words in the sources (`term_share`)",
    "bm25": "best raw BM25 (`bm25`)",
    "fused": "best fused 0..1 score (`fused`, normalised per query)",
    "dense_and_words": "`dense` and `term_share`, each against its own cut",
    "shipped": "**shipped: `rag.answerable.judge`, default settings**",
}
_VARIANTS = {
    "before": "before (any sentence, questions too, by words)",
    "words": "after, words only (keyword retrieval)",
    "after": "after, words + embedder (shipped)",
}


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def _cell(half: dict[str, Any], key: str) -> str:
    return f"{_pct(half[key])} ({half[key + '_count']})"


def _rules_table(r: dict[str, Any]) -> list[str]:
    lines = [
        "| rule: refuse when below the cut | cut(s) | held-out: false refusals | false answers, near | "
        "false answers, far | calibration: false refusals | near | far |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for key, label in _RULES.items():
        rule = r["rules"][key]
        cuts = ", ".join(f"{name} {value:g}" for name, value in rule["cuts"].items())
        held, cal = rule["halves"]["held_out"], rule["halves"]["calibration"]
        lines.append(
            f"| {label} | {cuts} | {_cell(held, 'false_refusal')} | {_cell(held, 'false_answer_near')} | "
            f"{_cell(held, 'false_answer_far')} | {_cell(cal, 'false_refusal')} | {_cell(cal, 'false_answer_near')} | "
            f"{_cell(cal, 'false_answer_far')} |"
        )
    return lines


def _extractive_lines(e: dict[str, Any]) -> list[str]:
    q = e["quality"]
    lines = [
        "| extractive backend | answers holding a needle: calibration | held-out | all | answers quoting a question "
        "| claims `check_citations` supports |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key, label in _VARIANTS.items():
        cal, held, every = q["calibration"][key], q["held_out"][key], q["all"][key]
        lines.append(
            f"| {label} | {_pct(cal['needle'])} | {_pct(held['needle'])} | {_pct(every['needle'])} | "
            f"{_pct(every['quotes_question'])} | {_pct(every['claims_supported'])} of {every['claims']} |"
        )
    timed = e["seconds_per_answer"]
    dense, words = timed["with_embedder"], timed["words_only"]
    lines += [
        "",
        f"Time per answer over {dense['n']} held-out questions, the embedder itself (no cache): with it "
        f"{dense['p50_ms']:.0f} ms median, {dense['p95_ms']:.0f} ms p95; by words alone {words['p50_ms']:.0f} ms "
        f"median, {words['p95_ms']:.0f} ms p95 (one batch encode of the question and the best candidate sentences; "
        "it grows with the machine's load, see `load_average`).",
    ]
    return lines


def refusal_section(r: dict[str, Any], plots: dict[str, str]) -> list[str]:
    """Fitted rules and their false refusals/answers per half; extractive quality before and after."""
    n, halves = r["questions"], r["halves"]
    shipped = r["rules"]["shipped"]["halves"]["held_out"]
    met = "met" if r["goal"]["met"] else "**not met**"
    lines = [
        f"{n['answerable']} answerable questions (dev + bench), {n['near']} unanswerable ones near a topic of the "
        f"corpus and {n['far']} far from all of them (`bench/unanswerable_questions.jsonl`), each group split by "
        f"a hash of the question into a calibration half ({halves['calibration']}) and a held-out half "
        f"({halves['held_out']}) before any result was seen. The corpus was built with the shipped settings "
        f"(`{r['embedder']}`) and every question retrieved by `Retriever.search` (bench/refusal.py). Each cut was "
        f"fitted on the calibration half: the highest that refuses at most {_pct(r['max_refused_share'])} of its "
        "answerable questions, placed midway to the next lower value.",
        "",
        *_rules_table(r),
        "",
        f"Goal, under {_pct(r['goal']['false_refusal_under'])} false refusals on held-out with the shipped rule: "
        f"{met} ({_cell(shipped, 'false_refusal')}); it then answers {_cell(shipped, 'false_answer')} of the "
        "held-out unanswerable questions. The fused score cannot refuse anything (normalised per query, its best "
        "source scores 0.6 to 1 for every question, answerable or not); BM25 is highest for the *near* questions, "
        "which repeat the article's names. No retrieval signal separates those: they match the right article and "
        "lack only the asked-for fact. With a model, the prompt's instruction to say so is what catches them (the "
        "notice tells the reader when the signals are weak); without one, the answer quotes the closest passages.",
        "",
        "### Extractive answers, before and after (same run, same packed sources)",
        "",
        *_extractive_lines(r["extractive"]),
    ]
    return lines
