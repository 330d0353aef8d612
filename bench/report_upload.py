"""Report section 7: the 150 MB upload (bench/upload.py)."""

from __future__ import annotations

from typing import Any


def upload_section(u: dict[str, Any], plots: dict[str, str]) -> list[str]:
    """Phases, progress, memory and WAL of one large upload, batched as shipped and in one transaction."""
    shipped, single = u["shipped"], u["one_transaction"]
    lines = [
        f"A {u['file_mb']:.0f} MB text file of 20 distinct paragraphs, staged from a stream and ingested by "
        f"`add_files` with the `{u['embedder']}` embedder (bench/upload.py). {shipped['chunks']:,} chunks, "
        f"{shipped['passages']} distinct passages: {shipped['chunks_embedded']} embedded, the rest reuse them.",
        "",
        f"| | batched (shipped, {u['batch_chunks']:,} chunks per transaction) | one transaction (baseline) |",
        "|---|---:|---:|",
        f"| staging copy | {shipped['stage_copy_s']:.1f} s | {single['stage_copy_s']:.1f} s |",
    ]
    for stage in dict.fromkeys([*shipped["phases"], *single["phases"]]):
        a, b = shipped["phases"].get(stage), single["phases"].get(stage)
        cell = lambda p: f"{p['seconds']:.1f} s ({p['reports']} reports)" if p else "–"  # noqa: E731
        lines.append(f"| phase `{stage}` | {cell(a)} | {cell(b)} |")
    lines += [
        f"| total, start to end | {shipped['total_s']:.1f} s | {single['total_s']:.1f} s |",
        f"| longest time without a progress report | {shipped['longest_silence_s']:.1f} s | "
        f"{single['longest_silence_s']:.1f} s |",
        f"| peak SQLite WAL | {shipped['peak_wal_mb']:.1f} MB | {single['peak_wal_mb']:.1f} MB |",
        f"| peak RSS of the process | {shipped['peak_rss_mb']} MB | {single['peak_rss_mb']} MB |",
        f"| knowledge base on disk after | {shipped['kb_disk_mb']:.1f} MB | {single['kb_disk_mb']:.1f} MB |",
        "",
        f"The one-transaction write grows the WAL {u['wal_ratio']:g}× as far as the batched one, in the same run.",
    ]
    waiter = shipped.get("second_writer")
    if waiter:
        said = "; ".join(f"“{m}”" for m in waiter["messages"][:1]) or "(nothing)"
        lines += [
            "",
            f"A second writer started {waiter['started_s']:.1f} s into the upload waited {waiter['waited_s']:.1f} s, "
            f"saying {said}, and landed ({', '.join(waiter['added'])}) {waiter['landed_s']:.1f} s after the upload "
            "began.",
        ]
    return lines
