"""File -> list of Sections: one loader per type, every failure an UnsupportedFile a person can read.

Nothing here executes or unpickles anything: files are read as bytes and handed to parsers
(pypdf, python-docx, BeautifulSoup) that only read.
"""

from __future__ import annotations

import codecs
import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import charset_normalizer
from bs4 import BeautifulSoup, NavigableString, Tag

from ingest.errors import UnsupportedFile
from ingest.types import Section

SUPPORTED_EXTENSIONS: tuple[str, ...] = (".txt", ".md", ".markdown", ".pdf", ".docx", ".html", ".htm")

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\u200b\ufeff]")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: its BOM starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CJK = re.compile(r"[\u2000-\u206f\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
_HTML_DROP = {"script", "style", "nav", "noscript", "template", "svg", "iframe", "head"}
_HTML_PARA = {"p", "pre", "ul", "ol", "dl", "blockquote", "section", "article", "main", "figure", "hr"}
_HTML_LINE = {"div", "li", "dt", "dd", "tr", "br", "header", "footer", "aside", "caption", "figcaption"}


def normalize_text(text: str) -> str:
    """Unify newlines, drop NUL/control characters, strip trailing spaces, keep at most one blank line."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n").replace("\u00a0", " ")
    text = _CONTROL.sub("", text)
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def _human(n: float) -> str:
    return f"{n / 1048576:.1f} MB" if n >= 1048576 else f"{n / 1024:.1f} KB" if n >= 1024 else f"{n:g} bytes"


def _read(path: Path, max_bytes: int) -> bytes:
    with path.open("rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:  # it grew after stat()
        raise UnsupportedFile(path.name, f"file is larger than the {_human(max_bytes)} limit")
    return data


def decode_text(data: bytes, name: str) -> str:
    """Decode a text file: BOM, UTF-8, GBK/GB18030, then charset-normalizer's best guess."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                raise UnsupportedFile(name, f"starts like {encoding} text but is damaged") from None
    binary = UnsupportedFile(name, "is not a text file (binary data; was another file renamed?)")
    if b"\x00" in data:
        guess = charset_normalizer.from_bytes(data).best()  # BOM-less UTF-16 is the one text with NULs
        if guess is None or not guess.encoding.startswith(("utf_16", "utf_32")) or "\x00" in str(guess):
            raise binary
        return str(guess)
    for encoding in ("utf-8", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        wide = sum(1 for ch in text if ord(ch) > 127)
        # Latin-1 or Big5 bytes can decode as GB18030 by chance; real Chinese is mostly CJK.
        if encoding == "utf-8" or len(_CJK.findall(text)) >= 0.9 * wide:
            return text
    guess = charset_normalizer.from_bytes(data).best()
    if guess is None:
        raise UnsupportedFile(name, "is not readable text (unknown encoding or binary data)")
    text = str(guess)
    if len(_CONTROL.findall(text)) > 0.05 * len(text):
        raise binary
    return text


def _load_txt(data: bytes, name: str, max_bytes: int) -> list[Section]:
    return [Section(normalize_text(decode_text(data, name)))]


_FENCE = re.compile(r"^\s*(```|~~~)")
_ATX = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")


def _load_markdown(data: bytes, name: str, max_bytes: int) -> list[Section]:
    lines = normalize_text(decode_text(data, name)).split("\n")
    if lines and lines[0] == "---" and "---" in lines[1:]:  # YAML front matter: metadata, not prose
        lines = lines[lines.index("---", 1) + 1 :]
    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    body: list[str] = []
    fence: str | None = None

    def flush() -> None:
        text = "\n".join(body).strip("\n")
        heading = " > ".join(title for _, title in path) or None
        if text and text != (path[-1][1] if path else None):
            sections.append(Section(text, heading=heading))
        body.clear()

    for i, line in enumerate(lines):
        level, title = 0, ""
        if fence is not None:
            fence = None if line.strip().startswith(fence) else fence
        elif (m := _FENCE.match(line)) is not None:
            fence = m.group(1)
        elif (m := _ATX.match(line)) is not None:
            level, title = len(m.group(1)), m.group(2).strip()
        elif i + 1 < len(lines) and body and body[-1].strip() and re.fullmatch(r"=+|-+", lines[i + 1]):
            pass  # handled when the underline is reached
        elif re.fullmatch(r"=+|-{2,}", line) and body and body[-1].strip() and (len(body) < 2 or not body[-2]):
            level, title = (1 if line[0] == "=" else 2), body.pop().strip()  # setext heading
        if level and title:
            flush()
            path = [(lvl, t) for lvl, t in path if lvl < level] + [(level, title)]
            body.append(title)
        else:
            body.append(line)
    flush()
    return sections


def _load_pdf(data: bytes, name: str, max_bytes: int) -> list[Section]:
    import pypdf
    from pypdf.errors import DependencyError

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):  # an empty user password opens many
            raise UnsupportedFile(name, "PDF is password-protected; remove the password and add it again")
        pages = [normalize_text(page.extract_text() or "") for page in reader.pages]
    except UnsupportedFile:
        raise
    except DependencyError:
        raise UnsupportedFile(name, "PDF is encrypted with AES; install 'cryptography' to read it") from None
    except Exception as exc:  # pypdf raises many types on damaged files
        raise UnsupportedFile(name, f"PDF is damaged or not a PDF ({type(exc).__name__})") from None
    sections = [Section(text, page=i) for i, text in enumerate(pages, start=1) if text.strip()]
    if pages and not sections:
        raise UnsupportedFile(name, "PDF has no text layer (scanned pages?); OCR is not supported")
    return sections


def _load_docx(data: bytes, name: str, max_bytes: int) -> list[Section]:
    import docx
    from docx.table import Table

    corrupt = "is not a valid Word .docx file (damaged, or an old .doc renamed: save it as .docx)"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > 20 * max_bytes + 10_000_000:  # a zip bomb would exhaust memory in the parser
            raise UnsupportedFile(name, f"unpacks to {_human(unpacked)}, too large to read safely")
        document = docx.Document(io.BytesIO(data))
    except UnsupportedFile:
        raise
    except Exception:  # BadZipFile, PackageNotFoundError, KeyError for a missing part, XML errors
        raise UnsupportedFile(name, corrupt) from None
    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    body: list[str] = []

    def flush() -> None:
        if any(block.strip() for block in body[1 if path else 0 :]):
            sections.append(Section(normalize_text("\n\n".join(body)), heading=" > ".join(t for _, t in path)))
        body.clear()

    for block in document.iter_inner_content():
        if isinstance(block, Table):
            body.append(_docx_table(block))
            continue
        text = block.text.strip()
        style = block.style.name if block.style is not None else ""
        m = re.fullmatch(r"(?:Heading|heading|标题)\s*([1-9])", style or "")
        if m and text:
            flush()
            level = int(m.group(1))
            path = [(lvl, t) for lvl, t in path if lvl < level] + [(level, text)]
        if text:
            body.append(text)
    flush()
    return [Section(s.text, heading=s.heading or None) for s in sections]


def _docx_table(table: object) -> str:
    rows = []
    for row in table.rows:  # type: ignore[attr-defined]
        cells: list[str] = []
        for cell in row.cells:  # a merged cell appears once per grid column it spans
            text = " ".join(cell.text.split())
            if not cells or text != cells[-1]:
                cells.append(text)
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _load_html(data: bytes, name: str, max_bytes: int) -> list[Section]:
    head = data[:4096].decode("ascii", "ignore")
    declared = re.search(r"""<meta[^>]+charset=["']?([\w-]+)""", head, re.IGNORECASE)
    encoding = declared.group(1).lower() if declared else ""
    if encoding in {"gb2312", "gbk", "gb18030"}:
        markup = data.decode("gb18030", "replace")  # pages labelled gb2312 routinely use GBK characters
    else:
        try:
            markup = data.decode(encoding) if encoding else decode_text(data, name)
        except (LookupError, UnicodeDecodeError):
            markup = decode_text(data, name)
    soup = BeautifulSoup(markup.replace("\ue000", ""), "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    out: list[str] = []
    stack: list[tuple[object, bool]] = [(soup.body or soup, False)]
    while stack:  # iterative walk: deeply nested pages must not hit the recursion limit
        node, in_pre = stack.pop()
        if isinstance(node, str) and not isinstance(node, NavigableString):
            out.append(node)
        elif isinstance(node, NavigableString):
            if type(node) is NavigableString:  # skip comments, doctypes, CDATA
                text = str(node) if in_pre else re.sub(r"\s+", " ", str(node))
                out.append(text.lstrip() if not in_pre and (not out or out[-1].endswith("\n")) else text)
        elif isinstance(node, Tag) and node.name not in _HTML_DROP:
            if re.fullmatch(r"h[1-6]", node.name):
                out.append(f"\n\ue000{node.name[1]}\ue000{node.get_text(' ', strip=True)}\n")
            elif node.name == "table":
                rows = [[c.get_text(" ", strip=True) for c in tr.find_all(["td", "th"])] for tr in node("tr")]
                out.append("\n\n" + "\n".join("| " + " | ".join(r) + " |" for r in rows if r) + "\n\n")
            else:
                sep = "\n\n" if node.name in _HTML_PARA else "\n" if node.name in _HTML_LINE else ""
                stack.append((sep, in_pre))
                stack.extend((child, in_pre or node.name == "pre") for child in reversed(node.contents))
                stack.append((sep, in_pre))
    parts = "".join(out).split("\ue000")
    sections = [Section(normalize_text(parts[0]), heading=title or None)]
    path: list[tuple[int, str]] = []
    for level_text, heading, body in zip(parts[1::3], parts[2::3], parts[3::3], strict=True):
        level = int(level_text)
        path = [(lvl, t) for lvl, t in path if lvl < level] + [(level, heading)]
        if body.strip():
            sections.append(Section(normalize_text(heading + "\n\n" + body), heading=" > ".join(t for _, t in path)))
    return [s for s in sections if s.text]


_LOADERS: dict[str, Callable[[bytes, str, int], list[Section]]] = {
    ".txt": _load_txt,
    ".md": _load_markdown,
    ".markdown": _load_markdown,
    ".pdf": _load_pdf,
    ".docx": _load_docx,
    ".html": _load_html,
    ".htm": _load_html,
}


def load_document(path: Path, max_bytes: int) -> list[Section]:
    """Read one file into Sections (text + page or heading path).

    Raises UnsupportedFile with a one-line reason for an unknown type, an empty, oversized,
    damaged, password-protected, scanned or vanished file. The size is checked before reading.
    """
    name = path.name
    loader = _LOADERS.get(path.suffix.lower())
    if loader is None:
        kind = f"'{path.suffix}'" if path.suffix else "with no extension"
        raise UnsupportedFile(name, f"file type {kind} is not supported; use one of {', '.join(SUPPORTED_EXTENSIONS)}")
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise UnsupportedFile(name, "is not a regular file")
        if size > max_bytes:
            raise UnsupportedFile(name, f"file is {_human(size)}, larger than the {_human(max_bytes)} limit")
        if size == 0:
            raise UnsupportedFile(name, "file is empty")
        sections = loader(_read(path, max_bytes), name, max_bytes)
    except FileNotFoundError:
        raise UnsupportedFile(name, "file disappeared before it could be read") from None
    except OSError as exc:
        raise UnsupportedFile(name, f"file could not be read ({exc.strerror or exc})") from None
    sections = [s for s in sections if s.text.strip()]
    if not sections:
        raise UnsupportedFile(name, "contains no text")
    return sections
