"""PDF: the text layer of each page, one Section per page."""

from __future__ import annotations

import io

from ingest.errors import UnsupportedFile
from ingest.loaders.text import normalize_text
from ingest.types import Section


def load_pdf(data: bytes, name: str, max_bytes: int) -> list[Section]:
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
    sections = [Section(text, page=i) for i, text in enumerate(pages, start=1) if text]
    if pages and not sections:
        raise UnsupportedFile(name, "PDF has no text layer (scanned pages?); OCR is not supported")
    return sections
