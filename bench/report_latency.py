"""Report section 3: query latency (see bench/latency.py)."""

from __future__ import annotations

from typing import Any


def _pp(row: dict[str, Any]) -> str:
    return f"{row['p50_ms']:.1f} / {row['p95_ms']:.1f}"


def _pp_or_na(row: dict[str, Any], key: str) -> str:
    return _pp(row[key]["total"]) if key in row else "n/a (HNSW)"


def _end_to_end_table(data: dict[str, Any]) -> list[str]:
    goals = data["goals_p95_ms"]
    lines = [
        "| chunks | store index (after rebuild) | recall@k vs exact | **retrieve+fuse+pack p50 / p95 ms** "
        "| same, dense by numpy (baseline) | p95 / baseline p95 | FAISS 1 thread | proposed core changes | p95 goal |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size, row in data["sizes"].items():
        index = row["store_index"]
        kind = index["type"]
        if index.get("hnsw_m"):
            kind += f" (M={index['hnsw_m']}, efSearch={index['ef_search']})"
        total, base = row["end_to_end"]["total"], row["end_to_end_numpy_dense"]["total"]
        ratio = f"{total['p95_ms'] / base['p95_ms']:.2f}×" if base["p95_ms"] else "–"
        goal = goals.get(size)
        lines.append(
            f"| {int(size):,} | {kind} | {index['recall']:.3f} | **{_pp(total)}** | {_pp(base)} | {ratio} | "
            f"{_pp_or_na(row, 'end_to_end_faiss_1thread')} | {_pp(row['end_to_end_proposed']['total'])} | "
            f"{'' if goal is None else f'{goal:.0f}'} |"
        )
    return lines


def _component_table(data: dict[str, Any]) -> list[str]:
    lines = [
        "| chunks | variant | keyword_search | dense_search | retrieve (both + fuse + fetch) | pack | total |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    names = {
        "end_to_end": "as shipped",
        "end_to_end_faiss_1thread": "FAISS 1 OpenMP thread",
        "end_to_end_proposed": "1 thread + pruned keyword query",
        "end_to_end_numpy_dense": "dense by numpy (baseline)",
    }
    for size, row in data["sizes"].items():
        for key, label in names.items():
            if key not in row:
                continue
            parts = row[key]
            cells = [_pp(parts[p]) for p in ("keyword", "dense", "retrieve", "pack", "total")]
            lines.append(f"| {int(size):,} | {label} | " + " | ".join(cells) + " |")
    return lines


def _dense_table(data: dict[str, Any]) -> list[str]:
    lines = [
        "| chunks | method | p50 / p95 ms | recall@k vs exact | speed-up of p95 vs numpy | build s |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for size, row in data["sizes"].items():
        dense = row["dense_only"]
        base = dense["numpy_bruteforce"]["p95_ms"]
        for method, stats in dense.items():
            speed = f"{base / stats['p95_ms']:.1f}×" if stats["p95_ms"] else "–"
            build = "" if stats.get("build_s") is None else f"{stats['build_s']:.1f}"
            lines.append(f"| {int(size):,} | {method} | {_pp(stats)} | {stats['recall']:.3f} | {speed} | {build} |")
    return lines


def latency_lines(data: dict[str, Any], plots: dict[str, str]) -> list[str]:
    """Markdown lines of the latency section."""
    embed = data["query_embedding"]
    lines = [
        f"{data['questions']} real questions × {data['repeats']} repeats per size ({data.get('repeats_at_1m', 1)} "
        "at 1M chunks), k = candidates = "
        f"{data['candidates']}, packed into a {data['window']}-token window counted with {data['tokenizer']}. "
        f"{data['note']} Query embedding ({embed['embedder']}, uncached) costs {_pp(embed)} ms p50 / p95 on top. "
        f"FAISS ran with {data['faiss_threads']} OpenMP threads, as the app does, unless a row says otherwise.",
        "",
        *_end_to_end_table(data),
        "",
        f"Proposed core changes (measured here, not in the core): {data['proposed_changes']}.",
        "",
        "### Where the time goes (p50 / p95 ms)",
        "",
        *_component_table(data),
        "",
        "### Dense search alone: numpy baseline, FAISS flat, HNSW",
        "",
        *_dense_table(data),
        "",
        "### Stores",
        "",
        "| chunks | build through apply() s | index written by apply() | rebuild from SQLite at open s | "
        "FAISS file MB | bench process RSS GB |",
        "|---:|---:|---|---:|---:|---:|",
    ]
    for size, row in data["sizes"].items():
        index = row["store_index"]
        lines.append(
            f"| {int(size):,} | {row['store_build_s']:.0f} | {row['index_after_apply']} | "
            f"{index['rebuild_from_sqlite_s']:.1f} | {index['file_mb']:.0f} | {row['rss_gb']:.2f} |"
        )
    flat_after_apply = [
        size
        for size, row in data["sizes"].items()
        if row["store_index"]["flat_limit"] < int(size)
        and "Flat" in (row["index_after_apply"] or "")
        and "HNSW" in row["store_index"]["type"]
    ]
    if flat_after_apply:
        lines += [
            "",
            f"At {', '.join(f'{int(s):,}' for s in flat_after_apply)} chunks the index written by `apply()` is flat "
            f"although FLAT_LIMIT is {data['sizes'][flat_after_apply[0]]['store_index']['flat_limit']:,}: the store "
            "starts every knowledge base with a flat index and only `_refresh_index` (a rebuild from SQLite, when "
            "the FAISS file is missing) consults FLAT_LIMIT. The rows above use the rebuilt index.",
        ]
    lines += ["", "Goals (p95):"]
    for size, goal in data["goals_p95_ms"].items():
        row = data["sizes"].get(size)
        if row:
            shipped, proposed = row["end_to_end"]["total"]["p95_ms"], row["end_to_end_proposed"]["total"]["p95_ms"]
            verdict = "met" if shipped < goal else "not met"
            lines.append(
                f"- {int(size):,} chunks, under {goal:.0f} ms: as shipped {shipped:.0f} ms ({verdict}); with the "
                f"proposed core changes {proposed:.0f} ms ({'met' if proposed < goal else 'not met'})."
            )
    if "latency" in plots:
        lines += ["", f"![p95 latency by store size]({plots['latency']})"]
    return lines
