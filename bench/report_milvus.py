"""Report section 14: the Milvus store on Milvus Lite against the embedded store (bench/milvus.py)."""

from __future__ import annotations

from typing import Any

LABELS = {"embedded": "embedded (SQLite + FAISS)", "milvus": "Milvus, our terms", "milvus-jieba": "Milvus, jieba"}


def _pp(stats: dict[str, float]) -> str:
    return f"{stats['p50_ms']:.0f} / {stats['p95_ms']:.0f}"


def _quality_lines(m: dict[str, Any]) -> list[str]:
    q = m["quality"]
    lines = [
        f"The shared corpus built by the pipeline with the shipped defaults (`{m['embedder']}`), once per store; "
        f"{m['questions']['dev']} dev questions and {m['questions']['bench']} bench questions answered by "
        "`Retriever.ranked`.",
        "",
        "| store | retrieval | dev recall@4 | dev MRR@10 | bench recall@4 | bench MRR@10 |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for row in q["rows"]:
        dev, bench = row["sets"]["dev"], row["sets"]["bench"]
        lines.append(
            f"| {LABELS[row['store']]} | {row['mode']} | {dev['recall@4']:.2f} | {dev['mrr@10']:.3f} | "
            f"{bench['recall@4']:.2f} | {bench['mrr@10']:.3f} |"
        )
    differences = q["hybrid_rank_differences"]
    total = m["questions"]["dev"] + m["questions"]["bench"]
    lines += ["", f"Hybrid ranks that differ between the embedded store and Milvus: {len(differences)} of {total}."]
    if differences:
        lines += ["", "| question | set | rank embedded | rank Milvus |", "|---|---|---:|---:|"]
        for d in differences[:10]:
            lines.append(f"| {d['q']} | {d['kind']} | {d['embedded'] or '–'} | {d['milvus'] or '–'} |")
    builds = q["builds"]
    lines += [
        "",
        "Building the corpus (embeddings from the bench cache, so this is parse, split and store): "
        + ", ".join(f"{LABELS[k]} {v['seconds']:.1f} s ({v['chunks_per_s']:.0f} chunks/s)" for k, v in builds.items())
        + ".",
    ]
    return lines


def _scale_lines(m: dict[str, Any]) -> list[str]:
    lines = [
        "Synthetic stores written through each store's `apply` (300-character chunks, one window each), then the "
        "questions timed (ms, p50 / p95; query vectors from the cache):",
        "",
        "| chunks | store | write | chunks/s | keyword | dense | hybrid `ranked` |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for row in m["scale"]:
        lat = row["latency"]
        lines.append(
            f"| {row['chunks']:,} | {LABELS[row['store']]} | {row['write_s']:.0f} s | {row['chunks_per_s']:,.0f} | "
            f"{_pp(lat['keyword'])} | {_pp(lat['dense'])} | {_pp(lat['hybrid'])} |"
        )
    return lines


def milvus_section(m: dict[str, Any], plots: dict[str, str]) -> list[str]:
    """Quality of both stores side by side, the analyzer comparison, write and query speed."""
    lines = [
        f"Milvus Lite {m['milvus_lite']} (pymilvus {m['pymilvus']}), in the same run as the embedded store. "
        "Milvus Lite is a Python re-implementation of Milvus for tests and laptops: the speeds below are Lite's, "
        "not those of a Milvus server or cluster, whose search runs in C++ on indexes built in the background.",
        "",
        *_quality_lines(m),
        "",
        *_scale_lines(m),
    ]
    return lines
