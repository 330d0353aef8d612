"""Images (.png .jpg .jpeg .webp .bmp .tif .tiff): their text by OCR, one Section per TIFF page."""

from __future__ import annotations

import io
import warnings as python_warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from ingest.errors import NoText, UnsupportedFile
from ingest.loaders.ocr import MAX_SIDE, OcrError, OcrUnavailable, PageProgress, recognise
from ingest.loaders.text import normalize_text
from ingest.types import Section

IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
# Only these decoders are tried, whatever the bytes claim: Pillow would otherwise also open, say,
# an EPS renamed .png, and its EPS decoder runs Ghostscript.
_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "TIFF")


def load_image(
    data: bytes,
    name: str,
    max_bytes: int,
    *,
    progress: PageProgress | None = None,
    warnings: list[str] | None = None,
) -> list[Section]:
    """The recognised text of an image as one Section with ocr=True; a multi-page TIFF gives one per
    page (page numbers from 1). A TIFF page that cannot be read is skipped and named in ``warnings``
    ("page 3: OCR failed: ..."); ``progress(done, total)`` counts pages."""
    image = _open(data, name)
    total = getattr(image, "n_frames", 1) if image.format == "TIFF" else 1
    sections: list[Section] = []
    failures: list[str] = []
    if progress:
        progress(0, total)
    for index in range(total):
        try:
            text = _frame_text(image, index)
        except OcrUnavailable as error:
            raise UnsupportedFile(name, str(error)) from None
        except Exception as error:  # OcrError, or Pillow's many error types for a damaged page
            if total == 1:
                raise UnsupportedFile(name, _reason(error)) from None
            failures.append(f"page {index + 1}: {_reason(error)}")
        else:
            if text:
                sections.append(Section(text, page=index + 1 if total > 1 else None, ocr=True))
        if progress:
            progress(index + 1, total)
    if not sections:
        if failures:
            raise UnsupportedFile(name, "; ".join(failures))
        raise NoText(name, "no text found in the image (OCR)")
    if warnings is not None:
        warnings.extend(failures)
    return sections


def _open(data: bytes, name: str) -> Image.Image:
    limit = Image.MAX_IMAGE_PIXELS
    bomb = f"is larger than the {limit or 0:,} pixels an image may have (a decompression bomb?)"
    with python_warnings.catch_warnings():
        python_warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=_FORMATS)  # reads the header only
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise UnsupportedFile(name, bomb) from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError):  # SyntaxError: some plugins' "bad file"
            reason = "is not a readable image (damaged, or not PNG, JPEG, WebP, BMP or TIFF)"
            raise UnsupportedFile(name, reason) from None
    if limit and image.width * image.height > limit:
        raise UnsupportedFile(name, bomb)
    if image.format == "JPEG":
        image.draft("RGB", (MAX_SIDE, MAX_SIDE))  # decode a large photo at a reduced scale: faster, less memory
    return image


def _frame_text(image: Image.Image, index: int) -> str:
    image.seek(index)
    limit = Image.MAX_IMAGE_PIXELS
    if limit and image.width * image.height > limit:  # each TIFF page has its own size
        raise ValueError(f"page is {image.width}×{image.height} pixels, over the {limit:,}-pixel limit")
    upright = ImageOps.exif_transpose(image)  # phone photos store their rotation in EXIF
    return normalize_text(recognise(upright))


def _reason(error: Exception) -> str:
    if isinstance(error, OcrError):
        return str(error)
    return f"image data is damaged ({error})".splitlines()[0]
