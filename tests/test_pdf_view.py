"""A PDF page rendered with the cited passage marked, from the knowledge base's stored original."""

from __future__ import annotations

import io

from fpdf import FPDF
from PIL import Image

from rag.pdf_view import SCALE, page_with_passage

FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
LINES = [
    "第一段：知识库助手支持扫描件和表格。",
    "第二段：发布窗口是每周四下午三点，需要值班经理签字。",
    "第三段：别的内容。",
]


def _pdf() -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.add_font("cjk", fname=FONT)
    pdf.set_font("cjk", size=14)
    for line in LINES:
        pdf.cell(0, 12, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _yellow_rows(png: bytes) -> list[int]:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    width, height = image.size
    pixels = image.load()
    return [y for y in range(height) if any(_is_yellow(pixels[x, y]) for x in range(0, width, 3))]


def _is_yellow(pixel: tuple[int, int, int]) -> bool:
    red, green, blue = pixel
    return red > 200 and green > 190 and blue < 170


def test_the_cited_passage_is_marked_and_nothing_else() -> None:
    png = page_with_passage(_pdf(), 1, LINES[1])
    rows = _yellow_rows(png)
    assert rows, "the passage should be highlighted"
    # fpdf2 puts the lines 12 mm apart from a 10 mm margin: the second line sits 22-34 mm down the page
    top, bottom = 22 * 72 / 25.4 * SCALE, 34 * 72 / 25.4 * SCALE
    assert top - 5 <= min(rows) and max(rows) <= bottom + 5


def test_a_passage_not_on_the_page_gives_the_page_unmarked() -> None:
    assert _yellow_rows(page_with_passage(_pdf(), 1, "完全不在这一页上的句子。")) == []
