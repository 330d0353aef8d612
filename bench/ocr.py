"""Part ocr: a scanned PDF through ``parse_document``: pages per second and the text recovered.

Prose paragraphs of the shared corpus (Chinese with English terms) are drawn on A4 pages at 200
dpi with Noto Sans CJK at 32 px (about 11.5 pt), degraded like a scan (Gaussian noise of standard
deviation 12 on 0-255, a rotation of up to 0.8 degrees) and saved as an image-only PDF. The file
then goes through the real loader, which renders each page with PDFium and recognises it with
RapidOCR. Characters recovered = 1 - Levenshtein distance / known characters, after NFKC and with
all whitespace removed (bench/scanned.py), per page and over the whole file. To check the choice of
``SCAN_DPI``, two more A4 pages in small print (20 px, about 7 pt: footnotes) are read at 100, 150 and
200 dpi. ``--quick``: 2 A6 pages of 6 lines each, no dpi check (OCR time grows with area and text).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
from PIL import Image

from bench.common import CORPUS, RunOptions, load_average, write_json
from bench.scanned import A4_200DPI, edit_distance, font, image_pdf, normalised, render_page, wrap
from ingest.loaders import ocr, parse_document
from ingest.loaders import pdf as pdf_loader

PAGES, QUICK_PAGES, QUICK_LINES = 10, 2, 6
A6_200DPI = (827, 1165)
FONT_PX, MARGIN, NOISE, MAX_ROTATION = 32, 150, 12.0, 0.8
SWEEP_DPI, SWEEP_PAGES, SWEEP_FONT_PX, SWEEP_LINES = (100, 150, 200), 2, 20, 12
_PROSE = re.compile(r"[\u4e00-\u9fff\u3000-\u303f\uff00-\uffef\x20-\x7e“”‘’—…·]+")  # what the font draws
_HAN = re.compile(r"[\u4e00-\u9fff]")


def corpus_paragraphs() -> Iterator[str]:
    """Prose lines of the shared corpus, in file order: Chinese, 40+ characters, no code or links."""
    for path in sorted(CORPUS.glob("*.txt")):
        for raw in path.read_text(encoding="utf-8").split("\n"):
            line = raw.strip()
            prose = _PROSE.fullmatch(line) and _HAN.search(line)
            if len(line) >= 40 and raw[:1] not in " \t" and "http" not in line and prose:
                yield line


def scanned_pages(
    count: int, size: tuple[int, int] = A4_200DPI, lines_per_page: int | None = None, font_px: int = FONT_PX
) -> list[tuple[Image.Image, str]]:
    """``count`` degraded pages of ``size`` pixels (full unless ``lines_per_page`` is given) and the
    text drawn on each."""
    lines_per_page = lines_per_page or (size[1] - 2 * MARGIN) // int(1.6 * font_px)
    face, lines = font(font_px), []
    for paragraph in corpus_paragraphs():  # wrapping is slow: only as much text as the pages hold
        lines += ([""] if lines else []) + wrap([paragraph], face, size[0] - 2 * MARGIN)
        if len(lines) >= count * lines_per_page:
            break
    pages = []
    for number in range(count):
        drawn = lines[number * lines_per_page : (number + 1) * lines_per_page]
        rng = np.random.default_rng(number)
        image = render_page(
            drawn, size=size, margin=MARGIN, font_px=font_px, rng=rng, noise=NOISE, max_rotation=MAX_ROTATION
        )
        pages.append((image, "\n".join(drawn)))
    return pages


def _read(data: bytes, known: list[str]) -> dict[str, Any]:
    """Ingest ``data`` once; per-page wall and CPU seconds from the progress callback (the machine is
    shared, so wall time depends on its other jobs), characters recovered."""
    stamps: list[tuple[float, float]] = []
    warnings: list[str] = []
    started, cpu_started = time.perf_counter(), time.process_time()

    def progress(done: int, total: int) -> None:
        stamps.append((time.perf_counter(), time.process_time()))

    sections = parse_document("scan.pdf", data, 1 << 30, progress=progress, warnings=warnings)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    text = {s.page: s.text for s in sections if s.ocr}
    rows, distance, total = [], 0, 0
    for number, truth in enumerate(known, start=1):
        truth_n, seen_n = normalised(truth), normalised(text.get(number, ""))
        d = edit_distance(truth_n, seen_n)
        distance, total = distance + d, total + len(truth_n)
        rows.append(
            {
                "page": number,
                "characters": len(truth_n),
                "recognised_characters": len(seen_n),
                "edit_distance": d,
                "recovered": round(max(0.0, 1 - d / len(truth_n)), 4),
                "seconds": round(stamps[number][0] - stamps[number - 1][0], 2),
                "cpu_seconds": round(stamps[number][1] - stamps[number - 1][1], 2),
            }
        )
    return {
        "seconds": round(seconds, 2),
        "pages_per_s": round(len(known) / seconds, 3),
        "cpu_seconds": round(cpu_seconds, 2),
        "recovered_overall": round(1 - distance / total, 4),
        "characters": total,
        "per_page": rows,
        "warnings": warnings,
    }


def run(opts: RunOptions) -> dict[str, Any]:
    """Make the scanned PDF and ingest it, then the small-print pages at each dpi; write ocr.json."""
    count = QUICK_PAGES if opts.quick else PAGES
    started_load = load_average()
    size = A6_200DPI if opts.quick else A4_200DPI
    pages = scanned_pages(count, size, QUICK_LINES if opts.quick else None)
    data = image_pdf([image for image, _ in pages], dpi=200)
    known = [text for _, text in pages]
    warm = time.perf_counter()
    ocr.recognise(Image.new("L", (64, 64), 255))  # loads the models: measured apart from the pages
    engine_load_s = time.perf_counter() - warm
    full = _read(data, known)
    sweep = []
    if not opts.quick:
        small = scanned_pages(SWEEP_PAGES, A4_200DPI, SWEEP_LINES, SWEEP_FONT_PX)
        small_pdf = image_pdf([image for image, _ in small], dpi=200)
        chosen = pdf_loader.SCAN_DPI
        try:
            for dpi in SWEEP_DPI:
                pdf_loader.SCAN_DPI = dpi
                row = _read(small_pdf, [text for _, text in small])
                sweep.append({"dpi": dpi, **{k: row[k] for k in ("pages_per_s", "cpu_seconds", "recovered_overall")}})
        finally:
            pdf_loader.SCAN_DPI = chosen
    result = {
        "quick": opts.quick,
        "pages": count,
        "page_pixels": list(size),
        "scan_dpi": 200,
        "render_dpi": pdf_loader.SCAN_DPI,
        "max_side": ocr.MAX_SIDE,
        "font_px": FONT_PX,
        "noise_sigma": NOISE,
        "max_rotation_deg": MAX_ROTATION,
        "pdf_bytes": len(data),
        "engine_load_s": round(engine_load_s, 2),
        "threads": len(os.sched_getaffinity(0)),
        **full,
        "dpi_sweep": sweep,
        "sweep": {"pages": SWEEP_PAGES, "font_px": SWEEP_FONT_PX, "lines_per_page": SWEEP_LINES} if sweep else None,
        "load_average": {"start": started_load, "end": load_average()},
    }
    write_json(opts.out / "ocr.json", result)
    return result
