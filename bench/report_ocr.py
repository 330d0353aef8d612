"""Report section 8: OCR of a scanned PDF (see bench/ocr.py)."""

from __future__ import annotations

from typing import Any


def ocr_lines(data: dict[str, Any]) -> list[str]:
    """Markdown lines of the OCR section."""
    width, height = data["page_pixels"]
    mm = 25.4 / data["scan_dpi"]
    rendered = min(data["render_dpi"], data["max_side"] * data["scan_dpi"] / max(width, height))
    lines = [
        f"A {data['pages']}-page image-only PDF ({data['pdf_bytes'] / 2**20:.1f} MB) made at run time by bench/ocr.py: "
        f"prose of the shared corpus ({data['characters']:,} characters, Chinese with English terms) drawn on "
        f"{width} × {height}-pixel pages ({width * mm:.0f} × {height * mm:.0f} mm at {data['scan_dpi']} dpi) in "
        f"Noto Sans CJK at {data['font_px']} px "
        f"(about 11.5 pt), with Gaussian noise (σ {data['noise_sigma']:g}) and a rotation of up to "
        f"{data['max_rotation_deg']:g}°. It is read by `parse_document`: pypdf finds no text layer, PDFium renders "
        f"each page at {data['render_dpi']} dpi but at most {data['max_side']} pixels a side (so these pages at "
        f"{rendered:.0f} dpi) and RapidOCR (PP-OCRv4, ONNX Runtime on the CPU) recognises it. "
        "Characters recovered = 1 − Levenshtein distance / known characters, after NFKC, whitespace ignored.",
        "",
        "| pages | seconds | pages/s | seconds/page | CPU seconds/page | characters recovered | model load (s) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {data['pages']} | {data['seconds']:.1f} | {data['pages_per_s']:.3f} | "
        f"{data['seconds'] / data['pages']:.2f} | {data['cpu_seconds'] / data['pages']:.2f} | "
        f"**{100 * data['recovered_overall']:.2f} %** | {data['engine_load_s']:.2f} |",
        "",
        f"CPU seconds are those of the process, over its {data['threads']} cores: on a machine to itself a page "
        "takes about that divided by the cores in wall time. The models load once per process.",
        "",
        "| page | characters | recognised | edit distance | recovered | seconds | CPU seconds |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['page']} | {r['characters']} | {r['recognised_characters']} | {r['edit_distance']} | "
        f"{100 * r['recovered']:.2f} % | {r['seconds']:.2f} | {r['cpu_seconds']:.2f} |"
        for r in data["per_page"]
    ]
    if data["dpi_sweep"]:
        sweep = data["sweep"]
        lines += [
            "",
            f"Render resolution, on {sweep['pages']} more A4 pages of {sweep['lines_per_page']} lines in small print "
            f"({sweep['font_px']} px at 200 dpi, about {sweep['font_px'] * 72 / 200:.0f} pt, as footnotes), same run:",
            "",
        ]
        lines += ["| render dpi | pages/s | CPU seconds/page | characters recovered |", "|---:|---:|---:|---:|"]
        pages = sweep["pages"]
        lines += [
            f"| {r['dpi']} | {r['pages_per_s']:.3f} | {r['cpu_seconds'] / pages:.2f} | "
            f"{100 * r['recovered_overall']:.2f} % |"
            for r in data["dpi_sweep"]
        ]
    if data["warnings"]:
        lines += ["", "Pages skipped: " + "; ".join(data["warnings"])]
    start, end = data["load_average"]["start"], data["load_average"]["end"]
    lines += [
        "",
        f"Load average (1/5/15 min) at the start {start}, at the end {end}: OCR uses every core, so its speed "
        "follows what else the machine runs.",
    ]
    return lines
