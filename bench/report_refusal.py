"""Report section 11: saying "not in the sources", and extractive answers before/after (bench/refusal.py)."""

from __future__ import annotations

from typing import Any

_RULES = {
    "previous": "before: best raw cosine, one cut for every language (`dense` < 0.8761)",
    "dense": "best raw cosine of a source (`dense`)",
    "term_share": "share of the question's words in the sources (`term_share`)",
    "bm25": "best raw BM25 (`bm25`)",
    "fused": "best fused 0..1 score (`fused`, normalised per query)",
    "dense_and_words": "`dense` or `term_share` below its own cut",
    "weighted": "`dense` + weight x `term_share`, weight and cut fitted",
    "shipped": "**shipped: `rag.answerable.judge`, default settings**",
}
_SLICE_NAMES = {"zh": "Chinese", "en": "English", "zh_en": "Chinese on English docs"}
_COLUMNS = (
    ("zh", "false_refusal", "zh: false refusals"),
    ("zh", "false_answer_near", "zh: near answered"),
    ("zh", "false_answer_far", "zh: far answered"),
    ("en", "false_refusal", "en: false refusals"),
    ("en", "false_answer_near", "en: near answered"),
    ("en", "false_answer_far", "en: far answered"),
    ("zh_en", "false_refusal", "zh on en docs: false refusals"),
    ("zh_en", "false_answer_near", "zh on en docs: near answered"),
    ("zh_en", "false_answer_far", "zh on en docs: far answered"),
)
_VARIANTS = {
    "before": "before (any sentence, questions too, by words)",
    "words": "after, words only (keyword retrieval)",
    "after": "after, words + embedder (shipped)",
}


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def _cell(half: dict[str, Any], key: str) -> str:
    return f"{_pct(half[key])} ({half[key + '_count']})"


def _cuts(cuts: dict[str, dict[str, float]]) -> str:
    return "; ".join(f"{lang}: " + ", ".join(f"{k} {v:g}" for k, v in cut.items()) for lang, cut in cuts.items())


def _english_by_origin(rows: list[dict[str, Any]]) -> str:
    """The shipped rule's held-out false refusals of English answerable questions, per question file."""
    parts = []
    for origin in sorted({r.get("origin", "") for r in rows if r["lang"] == "en" and r.get("origin")}):
        chosen = [
            r
            for r in rows
            if r.get("origin") == origin
            and r["lang"] == "en"
            and r["group"] == "answerable"
            and r["half"] == "held_out"
        ]
        refused = sum(r["shipped_refused"] for r in chosen)
        parts.append(f"`{origin}` {_pct(refused / len(chosen) if chosen else None)} ({refused}/{len(chosen)})")
    return "; ".join(parts)


def _rules_table(r: dict[str, Any], half: str) -> list[str]:
    lines = [
        "| rule: refuse when below the cut | cut(s) per slice | "
        + " | ".join(label for _, _, label in _COLUMNS)
        + " |",
        "|---|---|" + "---:|" * len(_COLUMNS),
    ]
    for key, label in _RULES.items():
        rule = r["rules"][key]
        cells = []
        for slice_name, metric, _ in _COLUMNS:
            part = rule["slices"].get(slice_name)
            cells.append(_cell(part[half], metric) if part else "–")
        lines.append(f"| {label} | {_cuts(rule['cuts'])} | " + " | ".join(cells) + " |")
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
    """Fitted rules and their false refusals/answers per language and half; extractive quality."""
    n, halves = r["questions"], r["halves"]
    shipped = r["rules"]["shipped"]["slices"]
    met = "met" if r["goal"]["met"] else "**not met**"
    counts = "; ".join(
        f"{_SLICE_NAMES[name]}: {g['answerable']} answerable, {g['near']} near, {g['far']} far"
        for name, g in n.items()
        if sum(g.values())
    )
    held = "; ".join(f"{_SLICE_NAMES[k]} {_cell(v['held_out'], 'false_refusal')}" for k, v in shipped.items())
    lines = [
        "Questions by the language they are asked in and the knowledge base they are asked of "
        f"({counts}). Chinese: the dev and bench questions and `bench/unanswerable_questions.jsonl` over the "
        "shared corpus; English: `bench/refusal_en_questions.jsonl` and `bench/refusal_en_unanswerable.jsonl`, "
        "and a second pair written later and blind (`bench/refusal_en_questions_2.jsonl`, "
        "`bench/refusal_en_unanswerable_2.jsonl`, split on its own), over the English parts of the shipped "
        "guide (data/sample) and the Click docs, and the two English "
        "far-off questions of the Chinese set; Chinese questions over the Click docs (a few in the first "
        "pair, and `bench/refusal_zh_en_questions.jsonl` with `bench/refusal_zh_en_unanswerable.jsonl`, "
        "written blind) are cross-lingual. Each "
        "(set, group) was split by a hash of the question into a calibration half "
        f"({halves['calibration']}) and a held-out half ({halves['held_out']}) before any result was seen. "
        f"Every knowledge base was built with the shipped settings (`{r['embedder']}`) and every question "
        "retrieved by `Retriever.search` (bench/refusal.py). Each cut was fitted per slice on its calibration "
        "half; the slice is the shipped rule's own (`rag.answerable.question_slice`): the question's "
        "language, or Chinese on English docs when the retrieved sources are English. The cut is the highest that "
        f"refuses at most {_pct(r['max_refused_share'])} of its answerable questions, placed midway to the "
        "next lower value; the word weight (0 to 0.15) is the one whose cut refuses the most calibration "
        "unanswerable questions.",
        "",
        "Held-out half:",
        "",
        *_rules_table(r, "held_out"),
        "",
        "Calibration half:",
        "",
        *_rules_table(r, "calibration"),
        "",
        f"Goal, at most {_pct(r['goal']['false_refusal_under'])} false refusals on held-out in every slice "
        f"with the shipped rule: {met} ({held}; English by question file: {_english_by_origin(r['rows'])}). "
        "e5 cosines are compressed and run lower for English "
        "text, so the one cut fitted on Chinese refused about a third of the answerable English questions "
        "(the `previous` row). A cut of its own for English alone (the `dense` row) refuses few of them but "
        "answers English far-off questions, whose cosines reach the lowest answerable ones; adding the share of the "
        "question's words found with a small weight (the `weighted` row, shipped) refuses those too, at the "
        "price of English answerable questions whose words the sources put differently. For Chinese the fit "
        "gives the words no weight: the Chinese cut is the one fitted before. Chinese questions over English "
        "docs have cosines lower than Chinese questions over Chinese text, so the Chinese cut refused about a "
        "quarter of the answerable ones; their own cut, with the largest word weight (the identifiers they "
        "name are the only words they share with English text), refuses few of them but answers some far-off "
        "questions asked of English docs. The fused "
        "score cannot refuse anything (normalised per query); BM25 is highest for the *near* questions, which "
        "repeat the article's names. No retrieval signal separates those: they match the right article and "
        "lack only the asked-for fact. With a model, the prompt's instruction to say so is what catches them "
        "(the notice tells the reader when the signals are weak); without one, the answer quotes the closest "
        "passages.",
        "",
        "### Extractive answers, before and after (same run, same packed sources)",
        "",
        *_extractive_lines(r["extractive"]),
    ]
    return lines
