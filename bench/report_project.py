"""Report section: a whole project as a knowledge base (bench/project.py)."""

from __future__ import annotations

from typing import Any


def _label(row: dict[str, Any]) -> str:
    if row.get("shipped_defaults"):
        return "**shipped defaults**"
    retrieval = row["retrieval"]
    if retrieval["retrieval_mode"] != "hybrid":
        return retrieval["retrieval_mode"]
    if "quoted_text_share" in retrieval:
        return "hybrid, quoted text not weighted"
    if "code_query_in_english" in retrieval:
        if "code_keyword_share" in retrieval:
            share = retrieval["code_keyword_share"]
            return f"hybrid, code and English prose by the question as asked, code k={share:g}"
        return "hybrid, code and English prose by the question as asked"
    if "code_keyword_share" in retrieval:
        share = retrieval["code_keyword_share"]
        return f"hybrid, code chunks k={share:g}" + (" (as prose)" if share == 0.4 else "")
    return f"hybrid k={retrieval['keyword_weight']:g} d={retrieval['dense_weight']:g}"


def _cells(sets: dict[str, Any]) -> str:
    a = sets["all"]
    return f"{a['hits@4']}/{a['n']} | {a['recall@1']:.2f} | {a['recall@10']:.2f} | {a['mrr@10']:.3f}"


def _build_rows(builds: dict[str, Any]) -> list[str]:
    lines = [
        "| build | files ingested | failed | left out by rule | chunks (by kind) | passages | windows | seconds "
        "(by stage) |",
        "|---|---:|---:|---|---|---:|---:|---|",
    ]
    for name, b in builds.items():
        skipped = ", ".join(f"{reason} {n}" for reason, n in b["skipped_by_reason"].items()) or "–"
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(b["chunks_by_kind"].items()))
        stages = ", ".join(f"{stage} {s:g}" for stage, s in b["stage_seconds"].items())
        lines.append(
            f"| {name} | {b['files_ingested']} | {b['files_failed']} | {skipped} | {b['chunks']:,} ({kinds}) | "
            f"{b['passages']:,} | {b['windows']:,} | {b['seconds']:g} ({stages}) |"
        )
    return lines


def project_section(p: dict[str, Any], plots: dict[str, str]) -> list[str]:
    """Ingest of real repositories and retrieval on questions about them, shipped against prose."""
    lines = [
        f"jieba and click (and, for the bench's questions, the installed filelock and httpx packages) built by "
        f"`build_from_folder` with the `{p['embedder']}` embedder: as shipped (project walk, code chunked by its "
        "syntax, line ranges), and as the baseline, every file read as prose (renamed to .txt, the behaviour "
        "before code ingestion; same keyword tokenizer). Questions: "
        f"{p['questions']['dev']} shared dev questions (jieba + click), {p['questions']['bench']} of the "
        "bench's own (written blind, over all four: bench/project_questions.jsonl and the later "
        "bench/project_questions_3.jsonl) and, held out, "
        f"{p['questions'].get('heldout', 0)} written blind later over jieba + click (no setting was chosen on "
        "them: `bench/project_questions_2.jsonl`); a hit is a needle inside a ranked chunk. Rows that weight "
        "quoted text otherwise than the shipped `quoted_text_share` say so. Hybrid rows "
        "k/d weight prose chunks; code and config chunks (and, for a Chinese question, English prose under an "
        "English heading) give BM25 the shipped `code_keyword_share` of the weight "
        f"({p.get('code_keyword_share', 'n/a')}) except in the rows that say otherwise, and are also searched, by "
        "both retrievers, with a Chinese question as code words it (`code_query_in_english`: its identifiers and "
        "the glossary's English words; their dense side is that search's, their keyword side the better of the "
        'two) except in the rows "by the question as asked". The prose baseline has no code chunks and no '
        "headings, so those rows equal its shipped one.",
        "",
        *_build_rows(p["builds"]),
        "",
    ]
    for questions in ("dev", "bench", "heldout"):
        rows = [r for r in p["rows"] if r["questions"] == questions]
        if not rows:
            continue
        lines += [
            f"**{questions} questions**, shipped build against the prose baseline:",
            "",
            "| setting | hits@4 | R@1 | R@10 | MRR@10 | prose: hits@4 | R@1 | R@10 | MRR@10 |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        shipped = [r for r in rows if r["build"] == "shipped"]
        prose = {_label(r): r for r in rows if r["build"] == "prose"}
        for row in shipped:
            other = prose.get(_label(row))
            baseline = _cells(other["sets"]) if other else "– | – | – | –"
            lines.append(f"| {_label(row)} | {_cells(row['sets'])} | {baseline} |")
        best = next(r for r in shipped if r.get("shipped_defaults"))
        splits = [k for k in best["sets"] if k != "all"]
        lines += ["", "Shipped defaults by kind and style (hits@4 of n, MRR@10):", ""]
        lines += ["| " + " | ".join(splits) + " |", "|" + "---|" * len(splits)]
        lines.append(
            "| "
            + " | ".join(
                f"{best['sets'][s]['hits@4']}/{best['sets'][s]['n']}, {best['sets'][s]['mrr@10']:.2f}" for s in splits
            )
            + " |"
        )
        lines.append("")
    lines.append(f"{p['seconds'] / 60:.1f} min in all; load average {p['load_average']['start']} at the start.")
    return lines
