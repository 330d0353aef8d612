"""Scanned pages made from known text, and how much of that text OCR recovers.

Used by bench/ocr.py and by the OCR tests: text is drawn with a CJK font, optionally degraded like
a scan (noise, a slight rotation), and saved as an image-only PDF; the share of characters
recovered is 1 - (edit distance / length of the known text), after normalisation.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
A4_200DPI = (1654, 2339)
_TOKEN = re.compile(r"[A-Za-z0-9_.,:;'\"()/+-]+|\s+|.")


def font(pixels: int) -> ImageFont.FreeTypeFont:
    """The Noto Sans CJK font at ``pixels`` pixels (32 is about 11.5 pt at 200 dpi)."""
    return ImageFont.truetype(str(CJK_FONT), pixels)


def wrap(paragraphs: Sequence[str], face: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Lines of at most ``width`` pixels: Chinese breaks anywhere, Latin words stay whole;
    an empty line between paragraphs."""
    lines: list[str] = []
    for paragraph in paragraphs:
        if lines:
            lines.append("")
        line = ""
        for token in _TOKEN.findall(" ".join(paragraph.split())):
            if face.getlength(line + token) <= width or not line:
                line += token
            elif token.isspace():
                lines.append(line)
                line = ""
            else:
                lines.append(line.rstrip())
                line = token
        if line.strip():
            lines.append(line.rstrip())
    return lines


def render_page(
    lines: Sequence[str],
    *,
    size: tuple[int, int] = A4_200DPI,
    font_px: int = 32,
    margin: int = 150,
    rng: np.random.Generator | None = None,
    noise: float = 0.0,
    max_rotation: float = 0.0,
) -> Image.Image:
    """A greyscale page with ``lines`` drawn at 1.6 × the font size apart; with ``rng``, Gaussian
    noise of standard deviation ``noise`` (0-255 scale) and a rotation of up to ``max_rotation`` degrees."""
    face = font(font_px)
    page = Image.new("L", size, 255)
    draw = ImageDraw.Draw(page)
    for i, line in enumerate(lines):
        draw.text((margin, margin + i * int(1.6 * font_px)), line, font=face, fill=0)
    if rng is None:
        return page
    page = page.rotate(float(rng.uniform(-max_rotation, max_rotation)), Image.Resampling.BICUBIC, fillcolor=255)
    pixels = np.asarray(page, dtype=np.float32) + rng.normal(0, noise, (size[1], size[0]))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def image_pdf(pages: Sequence[Image.Image], dpi: int = 200) -> bytes:
    """An image-only PDF (no text layer), one page per image, sized as printed at ``dpi``."""
    out = io.BytesIO()
    first, *rest = [p.convert("L") for p in pages]
    first.save(out, "PDF", save_all=True, append_images=rest, resolution=dpi)
    return out.getvalue()


def normalised(text: str) -> str:
    """Text as compared: NFKC (full-width ：→ :), no whitespace at all (OCR's spacing is not content)."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions), one numpy row at a time."""
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a)
    target = np.array([ord(c) for c in b])
    steps = np.arange(len(b) + 1)
    row = steps.copy()
    for i, char in enumerate(a, start=1):
        substituted = row[:-1] + (target != ord(char))
        best = np.empty_like(row)
        best[0] = i
        best[1:] = np.minimum(row[1:] + 1, substituted)
        # an insertion chain: best[j] = min over k <= j of best[k] + (j - k)
        row = np.minimum.accumulate(best - steps) + steps
    return int(row[-1])


def recovered(known: str, recognised: str) -> float:
    """Share of the known characters recovered: 1 - normalised edit distance, floored at 0."""
    truth, seen = normalised(known), normalised(recognised)
    if not truth:
        return 1.0 if not seen else 0.0
    return max(0.0, 1 - edit_distance(truth, seen) / len(truth))
