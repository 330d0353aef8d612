"""A PDF page as a picture with a passage highlighted: the source one click away, no PDF plugin.

pypdfium2 renders the page and finds the passage in the page's own text layer: each line of the
passage that is long enough to be distinctive is searched for, and the boxes of what it matches
are painted over in translucent yellow. A scanned page (no text layer) is shown without marks.
"""

from __future__ import annotations

import io
import threading

SCALE = 1.5  # 108 dpi: readable in a source card, a few hundred KB
MIN_LINE = 6  # characters; shorter lines match too much of a page to mean anything
SEARCH_CHARS = 60  # of each line: pdfium's search is exact, and text layers wrap lines differently
HIGHLIGHT = (255, 214, 0, 90)
_PDFIUM = threading.Lock()  # pdfium is not thread-safe


def passage_boxes(page, passage: str) -> list[tuple[float, float, float, float]]:  # type: ignore[no-untyped-def]
    """(left, bottom, right, top) boxes, in PDF points, of the passage's lines found on ``page``."""
    textpage = page.get_textpage()
    boxes = []
    try:
        for line in dict.fromkeys(part.strip() for part in passage.splitlines()):
            if len(line) < MIN_LINE:
                continue
            found = textpage.search(line[:SEARCH_CHARS]).get_next()
            if found is None:
                continue
            index, count = found
            boxes += [textpage.get_rect(i) for i in range(textpage.count_rects(index, count))]
    finally:
        textpage.close()
    return boxes


def page_with_passage(pdf: bytes, page_number: int, passage: str) -> bytes:
    """PNG of page ``page_number`` (from 1) of ``pdf``, the passage's text highlighted where found."""
    import pypdfium2 as pdfium
    from PIL import Image, ImageDraw

    with _PDFIUM:
        document = pdfium.PdfDocument(pdf)
        try:
            page = document[page_number - 1]
            height = page.get_height()
            image = page.render(scale=SCALE).to_pil().convert("RGBA")
            boxes = passage_boxes(page, passage)
        finally:
            document.close()
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for left, bottom, right, top in boxes:
        draw.rectangle([left * SCALE, (height - top) * SCALE, right * SCALE, (height - bottom) * SCALE], fill=HIGHLIGHT)
    out = io.BytesIO()
    Image.alpha_composite(image, layer).convert("RGB").save(out, format="PNG", optimize=True)
    return out.getvalue()
