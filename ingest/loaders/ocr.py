"""Offline OCR of page images: RapidOCR's PP-OCRv4 Chinese+English models, shipped inside its wheel.

The engine is loaded once per process, on first use, and runs one image at a time: ONNX Runtime
already spreads one image over every core, and the engine keeps per-call state.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from statistics import median
from typing import Any

from PIL import Image

PageProgress = Callable[[int, int], None]
"""progress(pages done, pages total) of a loader that OCRs pages."""

MAX_SIDE = 2000
"""Longest side (pixels) an image is recognised at: the engine's own ``max_side_len``, so shrinking
here gives the same text and spares a copy of a large image in memory."""

_CJK = re.compile(r"[\u2e80-\u9fff\u3000-\u303f\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")
_lock = threading.Lock()
_engine: Any = None


class OcrError(Exception):
    """OCR of one image failed; str(error) is a one-line reason ("OCR failed: ...")."""


class OcrUnavailable(OcrError):
    """The OCR engine cannot be imported or loaded ("OCR unavailable: ...")."""


def _load_engine() -> Any:
    """Import and build the engine; raises OcrUnavailable with the cause."""
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as exc:
        raise OcrUnavailable(f"OCR unavailable: rapidocr-onnxruntime cannot be imported ({exc})") from None
    try:
        return RapidOCR()
    except Exception as exc:  # a missing or damaged model file, an ONNX Runtime error
        raise OcrUnavailable(f"OCR unavailable: its models failed to load ({type(exc).__name__}: {exc})") from None


def recognise(image: Image.Image) -> str:
    """The text in ``image``: lines top to bottom, boxes on one line left to right, a blank line
    where a paragraph gap is; "" when no text is found.

    Raises OcrUnavailable when the engine cannot be loaded (tried again on the next call) and
    OcrError when recognition itself fails.
    """
    global _engine
    picture = _flattened(image)
    picture.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    with _lock:
        if _engine is None:
            _engine = _load_engine()
        try:
            # No angle classifier: on upright pages it turned about one long line in ten upside down
            # (with confidence over 0.9), losing it; measured on the bench's A4 pages.
            found, _ = _engine(picture, use_cls=False)
        except Exception as exc:  # ONNX Runtime and OpenCV raise many types
            raise OcrError(f"OCR failed: {type(exc).__name__}: {exc}".splitlines()[0]) from None
    return _reading_order([(box, text) for box, text, _score in found or []])


def _flattened(image: Image.Image) -> Image.Image:
    """RGB on a white background: transparent pixels often hide black, which would hide black text."""
    if image.mode in {"RGBA", "LA", "PA"} or (image.mode == "P" and "transparency" in image.info):
        white = Image.new("RGBA", image.size, "white")
        return Image.alpha_composite(white, image.convert("RGBA")).convert("RGB")
    return image.convert("RGB")


@dataclass(frozen=True)
class _Box:
    top: float
    bottom: float
    left: float
    text: str

    @property
    def middle(self) -> float:
        return (self.top + self.bottom) / 2

    @property
    def height(self) -> float:
        return self.bottom - self.top


def _reading_order(found: list[tuple[list[list[float]], str]]) -> str:
    boxes = [
        _Box(min(y for _, y in box), max(y for _, y in box), min(x for x, _ in box), text.strip())
        for box, text in found
        if text.strip()
    ]
    lines: list[list[_Box]] = []
    for box in sorted(boxes, key=lambda b: b.middle):
        line = lines[-1] if lines else None
        if line and abs(box.middle - median(b.middle for b in line)) <= 0.5 * min(box.height, line[0].height):
            line.append(box)
        else:
            lines.append([box])
    if not lines:
        return ""
    gap = median(b.height for b in boxes)  # a paragraph break: more than a line's height of blank space
    out: list[str] = []
    for i, line in enumerate(lines):
        if i and min(b.top for b in line) - max(b.bottom for b in lines[i - 1]) > gap:
            out.append("")
        out.append(_join(b.text for b in sorted(line, key=lambda b: b.left)))
    return "\n".join(out)


def _join(pieces: Any) -> str:
    """Boxes of one line: a space between them, except between two Chinese (CJK) characters."""
    text = ""
    for piece in pieces:
        glue = "" if not text or (_CJK.match(text[-1]) and _CJK.match(piece[0])) else " "
        text += glue + piece
    return text
