"""File -> list of Sections: one loader per type, every failure an UnsupportedFile a person can read.

One module per family of formats (text.py holds the decoding they share):

    prose.py    .txt .md .markdown .html .htm
    pdf.py      .pdf (text layer; scanned pages by OCR)
    office.py   .docx .pptx
    sheets.py   .xlsx .csv .tsv (tables.py: Markdown tables)
    images.py   .png .jpg .jpeg .webp .bmp .tif .tiff (by OCR: ocr.py)
    code.py     source code: .py .js .ts .java .go .c .cpp .cs .rs .php .rb .kt .sh .sql and more;
                config: .toml .yaml .json .ini .cfg .xml .properties, Dockerfile, Makefile,
                CMakeLists.txt, requirements*.txt, Pipfile, .editorconfig, .gitignore,
                .gitattributes; an extensionless
                script by its #! line (python, sh/bash, node, ruby, php, perl)

Nothing here executes or unpickles anything: files are read as bytes and handed to parsers that
only read.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from ingest.errors import NoText, UnsupportedFile
from ingest.loaders.code import CODE_EXTENSIONS, language_of, load_code
from ingest.loaders.images import IMAGE_EXTENSIONS, load_image
from ingest.loaders.ocr import PageProgress
from ingest.loaders.office import load_docx, load_pptx
from ingest.loaders.pdf import load_pdf
from ingest.loaders.prose import load_html, load_markdown, load_txt
from ingest.loaders.sheets import load_csv, load_xlsx
from ingest.loaders.text import decode_text, human_size, normalize_text, over_size_limit
from ingest.types import Section

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "SUPPORTED_SUMMARY",
    "decode_text",
    "is_supported",
    "load_document",
    "normalize_text",
    "parse_document",
]

Loader = Callable[[bytes, str, int], list[Section]]
"""loader(data, name, max_bytes) -> Sections; raises UnsupportedFile with a reason."""

_LOADERS: dict[str, Loader] = {".txt": load_txt, ".pdf": load_pdf, ".docx": load_docx}
_LOADERS |= {".md": load_markdown, ".markdown": load_markdown, ".html": load_html, ".htm": load_html}

_LOADERS |= {".pptx": load_pptx, ".xlsx": load_xlsx, ".csv": load_csv, ".tsv": load_csv}
_LOADERS |= dict.fromkeys(IMAGE_EXTENSIONS, load_image)
_OCR_CAPABLE = {".pdf", *IMAGE_EXTENSIONS}  # their loaders also take progress= and warnings=

_DOCUMENT_EXTENSIONS = (".txt", ".md", ".markdown", ".pdf", ".docx", ".html", ".htm", ".pptx", ".xlsx", ".csv", ".tsv")
SUPPORTED_EXTENSIONS: tuple[str, ...] = _DOCUMENT_EXTENSIONS + IMAGE_EXTENSIONS + CODE_EXTENSIONS
"""Every extension read; code and config files are also known by whole name (Dockerfile) or #! line."""
SUPPORTED_SUMMARY = (
    "documents (.txt .md .html .pdf .docx .pptx .xlsx .csv, README/LICENSE), images and scans (OCR), "
    "source code (.py .js .ts .java .go .c .cpp .cs .rs .php .rb .kt .sh .sql …) and config "
    "(.toml .yaml .json .ini .xml, Dockerfile, Makefile, requirements.txt …)"
)
"""The supported types in one line, for people."""


# Plain-text documents that projects name without an extension (or with one that is no type).
_PROSE_NAMES = frozenset(
    "readme changelog changes history news license licence copying copyright authors contributors "
    "credits notice contributing todo install manifest.in".split()
)


def _is_prose_name(name: str) -> bool:
    base = Path(name).name.lower()
    return base in _PROSE_NAMES or (not Path(base).suffix and base.split("-")[0] in _PROSE_NAMES)


def is_supported(name: str, head: bytes = b"") -> bool:
    """Whether a file of this name (and, without an extension, starting with ``head``) can be read."""
    return _is_prose_name(name) or language_of(name, head) is not None or Path(name).suffix.lower() in _LOADERS


def _loader_for(name: str, head: bytes = b"") -> Loader:
    if language_of(name, head) is not None:  # before .txt: requirements.txt, CMakeLists.txt
        return load_code
    if _is_prose_name(name):  # README, Changelog, LICENSE
        return load_txt
    suffix = Path(name).suffix
    loader = _LOADERS.get(suffix.lower())
    if loader is None:
        kind = f"'{suffix}'" if suffix else "with no extension"
        raise UnsupportedFile(
            name,
            f"file type {kind} is not supported; use one of {', '.join(_DOCUMENT_EXTENSIONS)} "
            "or a source code or config file (.py, .js, .java, .go, .json, .yaml, .toml, Dockerfile, …)",
        )
    return loader


def load_document(path: Path, max_bytes: int) -> list[Section]:
    """Read one file into Sections (text + page or heading path).

    Raises UnsupportedFile with a one-line reason for an unknown type, an empty, oversized,
    damaged, password-protected, scanned or vanished file. The size is checked before reading.
    """
    name = path.name
    if Path(name).suffix:  # an unknown type fails before anything is read; a script is known by its #!
        _loader_for(name)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise UnsupportedFile(name, over_size_limit(size, max_bytes))
        with path.open("rb") as file:
            data = file.read(max_bytes + 1)  # no more: it may have grown since stat()
    except FileNotFoundError:
        raise UnsupportedFile(name, "file disappeared before it could be read") from None
    except OSError as exc:
        raise UnsupportedFile(name, f"file could not be read ({exc.strerror or exc})") from None
    return parse_document(name, data, max_bytes)


def parse_document(
    name: str,
    data: bytes,
    max_bytes: int,
    *,
    progress: PageProgress | None = None,
    warnings: list[str] | None = None,
) -> list[Section]:
    """Sections of a file already read into ``data``, its type from ``name`` (without an extension,
    from a #! line); the same errors as load_document (for callers that need the bytes anyway,
    e.g. to hash them).

    For files that are OCRed (scanned PDF pages, images): ``progress(done, total)`` counts the
    pages recognised, and each page that was skipped is appended to ``warnings`` as a one-line
    reason ("page 3: OCR failed: ..."), while the rest of the file is returned.
    """
    loader = _loader_for(name, data[:256])
    if Path(name).suffix.lower() in _OCR_CAPABLE:
        loader = partial(loader, progress=progress, warnings=warnings)
    if not data:
        raise NoText(name, "file is empty")
    if len(data) > max_bytes:
        raise UnsupportedFile(name, f"file is over the {human_size(max_bytes)} limit")
    try:
        sections = loader(data, name, max_bytes)
    except OSError as exc:
        raise UnsupportedFile(name, f"file could not be read ({exc.strerror or exc})") from None
    sections = [s for s in sections if s.text.strip()]
    if not sections:
        raise NoText(name, "contains no text")
    return sections
