"""PDF: the text layer of each page, one Section per page; scanned pages are rendered and OCRed."""

from __future__ import annotations

import io
import threading
from typing import Any

from ingest.errors import NoText, UnsupportedFile
from ingest.loaders.ocr import MAX_SIDE, OcrError, OcrUnavailable, PageProgress, recognise
from ingest.loaders.text import normalize_text
from ingest.types import Section

SCAN_DPI = 200
"""Resolution scanned pages are rendered at: that of most office scanners. Pages are never rendered
larger than MAX_SIDE pixels (the engine would shrink them to that anyway), so A4 and Letter come out
at about 171 dpi, where 7-pt print is still 17 pixels tall; 300 dpi would buy nothing, and a page
with a huge MediaBox cannot exhaust memory. On the bench's synthetic 7-pt pages (bench/ocr.py)
100 dpi read as well and cost about 30 % less CPU; 200 is kept for real scans, which are blurrier."""

MIN_TEXT_CHARS = 20
"""A page whose text layer has fewer non-space characters than this (a page number, a scanner's
stamp) but shows an image or drawing is taken for a scan and OCRed."""

_pdfium_lock = threading.Lock()  # PDFium is not thread-safe: one call into it at a time per process


def load_pdf(
    data: bytes,
    name: str,
    max_bytes: int,
    *,
    progress: PageProgress | None = None,
    warnings: list[str] | None = None,
) -> list[Section]:
    """One Section per page with text (page numbers from 1); scanned pages have ocr=True.

    A scanned page OCR fails on is skipped and named in ``warnings`` ("page 3: OCR failed: ...");
    when no page is left the reasons become the UnsupportedFile's. ``progress(done, total)``
    counts the pages to OCR.
    """
    import pypdf
    from pypdf.errors import DependencyError

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        locked = reader.is_encrypted and not reader.decrypt("")  # an empty user password opens many
        pages = [] if locked else [normalize_text(page.extract_text() or "") for page in reader.pages]
    except DependencyError:
        raise UnsupportedFile(name, "PDF is encrypted with AES; install 'cryptography' to read it") from None
    except Exception as exc:  # pypdf raises many types on damaged files
        raise UnsupportedFile(name, f"PDF is damaged or not a PDF ({type(exc).__name__})") from None
    if locked:
        raise UnsupportedFile(name, "PDF is password-protected; remove the password and add it again")
    thin = [i for i, text in enumerate(pages) if len("".join(text.split())) < MIN_TEXT_CHARS]
    to_ocr = _scanned_pages(data, thin, pages) if thin else []
    texts: dict[int, Section] = {i: Section(t, page=i + 1) for i, t in enumerate(pages) if t and i not in to_ocr}
    failures = _ocr_pages(data, to_ocr, texts, progress)
    sections = [texts[i] for i in sorted(texts)]
    if pages and not sections:
        if failures:
            raise UnsupportedFile(name, "; ".join(failures))
        blank = "no text found in the scanned pages (OCR)" if to_ocr else "PDF has no text: its pages are blank"
        raise NoText(name, blank)
    if warnings is not None:
        warnings.extend(failures)
    return sections


def _scanned_pages(data: bytes, thin: list[int], layers: list[str]) -> list[int]:
    """Which of the ``thin`` pages to OCR: those that show an image or a drawing, and those whose
    text objects gave no text at all (fonts without a Unicode map). Blank pages are not."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    chosen: list[int] = []
    with _pdfium_lock:
        try:
            document = pdfium.PdfDocument(data)
        except pdfium.PdfiumError:
            return thin  # each page will then be named as one that could not be rendered
        try:
            for index in thin:
                page = document[index]
                kinds = {obj.type for obj in page.get_objects()}
                page.close()
                if kinds - {pdfium_c.FPDF_PAGEOBJ_TEXT} or (kinds and not layers[index]):
                    chosen.append(index)
        finally:
            document.close()
    return chosen


def _ocr_pages(data: bytes, indices: list[int], out: dict[int, Section], progress: PageProgress | None) -> list[str]:
    """OCR the pages at ``indices`` into ``out``; returns the failures as "page N: reason" lines."""
    if not indices:
        return []
    import pypdfium2 as pdfium

    failed: dict[str, list[int]] = {}
    unavailable: str | None = None
    if progress:
        progress(0, len(indices))
    with _pdfium_lock:
        try:
            document: Any = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            return [_named(indices, f"could not be rendered for OCR ({exc})")]
    try:
        for done, index in enumerate(indices, start=1):
            try:
                if unavailable:  # the engine will not load: do not try again for every page
                    raise OcrUnavailable(unavailable)
                text = normalize_text(recognise(_render(document, index)))
            except OcrUnavailable as error:
                unavailable = str(error)
                failed.setdefault(unavailable, []).append(index)
            except OcrError as error:
                failed.setdefault(str(error), []).append(index)
            except pdfium.PdfiumError as exc:
                failed.setdefault(f"could not be rendered for OCR ({exc})", []).append(index)
            else:
                if text:
                    out[index] = Section(text, page=index + 1, ocr=True)
            if progress:
                progress(done, len(indices))
    finally:
        with _pdfium_lock:
            document.close()
    return [_named(pages, reason) for reason, pages in failed.items()]


def _render(document: Any, index: int) -> Any:
    with _pdfium_lock:
        page = document[index]
        try:
            width, height = page.get_size()
            scale = min(SCAN_DPI / 72, MAX_SIDE / max(width, height, 1.0))
            return page.render(scale=scale, grayscale=True).to_pil().copy()  # a copy owns its pixels
        finally:
            page.close()


def _named(indices: list[int], reason: str) -> str:
    pages = ", ".join(str(i + 1) for i in indices)
    return f"{'pages' if len(indices) > 1 else 'page'} {pages}: {reason}"
