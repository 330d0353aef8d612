"""File -> list of Sections: one loader per type, every failure an UnsupportedFile a person can read.

Nothing here executes or unpickles anything: files are read as bytes and handed to parsers
(pypdf, python-docx, BeautifulSoup) that only read.
"""

from __future__ import annotations

import codecs
import io
import re
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import charset_normalizer
from bs4 import BeautifulSoup, NavigableString, Tag

from ingest.errors import UnsupportedFile
from ingest.types import Section

SUPPORTED_EXTENSIONS: tuple[str, ...] = (".txt", ".md", ".markdown", ".pdf", ".docx", ".html", ".htm")

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\u200b\ufeff]")
# UTF-32 LE first: its BOM starts with the UTF-16 LE one.
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"))
_BOMS += ((codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
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


def decode_text(data: bytes, name: str) -> str:
    """Decode a text file: BOM, UTF-8, GBK/GB18030, then charset-normalizer's best guess."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                raise UnsupportedFile(name, f"starts like {encoding} text but is damaged") from None
    binary = UnsupportedFile(name, "is not a text file (binary data or unknown encoding; a renamed file?)")
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
    text = str(guess) if (guess := charset_normalizer.from_bytes(data).best()) else ""
    if not text or len(_CONTROL.findall(text)) > 0.05 * len(text):
        raise binary
    return text


def _load_txt(data: bytes, name: str, max_bytes: int) -> list[Section]:
    return [Section(normalize_text(decode_text(data, name)))]


class _Outline:
    """Collects Sections under a heading path ("安装 > 依赖") as headings arrive in reading order."""

    def __init__(self, joiner: str, untitled: str | None = None) -> None:
        self.joiner, self.untitled = joiner, untitled  # untitled: heading of text before any heading
        self.sections: list[Section] = []
        self.path: list[tuple[int, str]] = []
        self.body: list[str] = []

    def heading(self, level: int, title: str) -> None:
        self.flush()
        self.path = [(lvl, t) for lvl, t in self.path if lvl < level] + [(level, title)]
        self.body = [title]  # the title stays in the text: words in it are searched too

    def flush(self) -> list[Section]:
        if any(block.strip() for block in self.body[1 if self.path else 0 :]):  # not just a title
            heading = " > ".join(t for _, t in self.path) or self.untitled
            self.sections.append(Section(normalize_text(self.joiner.join(self.body)), heading=heading))
        self.body = []
        return self.sections


_FENCE = re.compile(r"\s*(```|~~~)")
_ATX = re.compile(r" {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*")


def _load_markdown(data: bytes, name: str, max_bytes: int) -> list[Section]:
    lines = normalize_text(decode_text(data, name)).split("\n")
    if lines[0] == "---" and "---" in lines[1:]:  # YAML front matter: metadata, not prose
        lines = lines[lines.index("---", 1) + 1 :]
    outline, fence = _Outline("\n"), ""
    for line in lines:
        body = outline.body
        if fence:
            fence = "" if line.strip().startswith(fence) else fence
        elif m := _FENCE.match(line):
            fence = m.group(1)
        elif (m := _ATX.fullmatch(line)) and m.group(2):
            outline.heading(len(m.group(1)), m.group(2))
            continue
        elif re.fullmatch(r"=+|-{2,}", line) and body and body[-1].strip() and (len(body) < 2 or not body[-2]):
            outline.heading(1 if line[0] == "=" else 2, body.pop().strip())  # setext: title, then ===
            continue
        outline.body.append(line)
    return outline.flush()


def _load_pdf(data: bytes, name: str, max_bytes: int) -> list[Section]:
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


def _load_docx(data: bytes, name: str, max_bytes: int) -> list[Section]:
    import docx
    from docx.table import Table

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        # a zip bomb would exhaust memory in the XML parser
        document = docx.Document(io.BytesIO(data)) if unpacked <= 20 * max_bytes + 10**7 else None
    except Exception:  # BadZipFile, PackageNotFoundError, KeyError for a missing part, XML errors
        reason = "is not a valid Word .docx file (damaged, or an old .doc renamed: save it as .docx)"
        raise UnsupportedFile(name, reason) from None
    if document is None:
        raise UnsupportedFile(name, f"unpacks to {_human(unpacked)}, too large to read safely")
    outline = _Outline("\n\n")
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            rows = ([" ".join(cell.text.split()) for cell in row.cells] for row in block.rows)  # merged cells repeat
            outline.body.append(_table_text([c for i, c in enumerate(r) if not i or c != r[i - 1]] for r in rows))
            continue
        text = block.text.strip()
        style = re.fullmatch(r"(?:[Hh]eading|标题)\s*([1-9])", block.style.name if block.style else "")
        if style and text:
            outline.heading(int(style.group(1)), text)
        elif text:
            outline.body.append(text)
    return outline.flush()


def _table_text(rows: Iterable[list[str]]) -> str:
    return "\n".join("| " + " | ".join(cells) + " |" for cells in rows if cells)


def _load_html(data: bytes, name: str, max_bytes: int) -> list[Section]:
    declared = re.search(rb"""<meta[^>]+charset=["']?([\w-]+)""", data[:4096], re.IGNORECASE)
    encoding = declared.group(1).decode().lower() if declared else ""
    try:  # pages labelled gb2312 routinely use GBK characters: read them as GB18030
        markup = data.decode("gb18030" if encoding in {"gb2312", "gbk"} else encoding)
    except (LookupError, UnicodeDecodeError):  # also: no charset declared
        markup = decode_text(data, name)
    soup = BeautifulSoup(markup, "html.parser")
    outline = _Outline("\n\n", soup.title.get_text(" ", strip=True) or None if soup.title else None)
    out: list[str] = []
    stack: list[tuple[Any, bool]] = [(soup.body or soup, False)]
    while stack:  # iterative walk: deeply nested pages must not hit the recursion limit
        node, in_pre = stack.pop()
        if type(node) is NavigableString:  # subclasses are comments, doctypes, CDATA: skipped
            text = str(node) if in_pre else re.sub(r"\s+", " ", str(node))
            out.append(text.lstrip() if not in_pre and (not out or out[-1].endswith("\n")) else text)
        elif type(node) is str:  # a separator pushed below; adjacent ones collapse like CSS margins
            tail = "".join(out[-2:])
            out.append(node[len(tail) - len(tail.rstrip("\n")) :])
        elif isinstance(node, Tag) and node.name not in _HTML_DROP:
            if re.fullmatch(r"h[1-6]", node.name):
                outline.body.append("".join(out))
                out.clear()
                outline.heading(int(node.name[1]), node.get_text(" ", strip=True))
            elif node.name == "table":
                rows = ([c.get_text(" ", strip=True) for c in tr.find_all(["td", "th"])] for tr in node("tr"))
                out.append("\n\n" + _table_text(rows) + "\n\n")
            else:
                sep = "\n\n" if node.name in _HTML_PARA else "\n" if node.name in _HTML_LINE else ""
                stack.append((sep, in_pre))
                stack.extend((child, in_pre or node.name == "pre") for child in reversed(node.contents))
                stack.append((sep, in_pre))
    outline.body.append("".join(out))
    return outline.flush()


_LOADERS: dict[str, Callable[[bytes, str, int], list[Section]]] = {".txt": _load_txt, ".pdf": _load_pdf}
_LOADERS |= {".md": _load_markdown, ".markdown": _load_markdown, ".docx": _load_docx}
_LOADERS |= {".html": _load_html, ".htm": _load_html}


def _loader_for(name: str) -> Callable[[bytes, str, int], list[Section]]:
    suffix = Path(name).suffix
    loader = _LOADERS.get(suffix.lower())
    if loader is None:
        kind = f"'{suffix}'" if suffix else "with no extension"
        raise UnsupportedFile(name, f"file type {kind} is not supported; use one of {', '.join(SUPPORTED_EXTENSIONS)}")
    return loader


def load_document(path: Path, max_bytes: int) -> list[Section]:
    """Read one file into Sections (text + page or heading path).

    Raises UnsupportedFile with a one-line reason for an unknown type, an empty, oversized,
    damaged, password-protected, scanned or vanished file. The size is checked before reading.
    """
    name = path.name
    _loader_for(name)  # an unknown type fails before anything is read
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise UnsupportedFile(name, f"file is {_human(size)}, larger than the {_human(max_bytes)} limit")
        with path.open("rb") as file:
            data = file.read(max_bytes + 1)  # no more: it may have grown since stat()
    except FileNotFoundError:
        raise UnsupportedFile(name, "file disappeared before it could be read") from None
    except OSError as exc:
        raise UnsupportedFile(name, f"file could not be read ({exc.strerror or exc})") from None
    return parse_document(name, data, max_bytes)


def parse_document(name: str, data: bytes, max_bytes: int) -> list[Section]:
    """Sections of a file already read into ``data``, its type from ``name``'s extension; the same
    errors as load_document (for callers that need the bytes anyway, e.g. to hash them)."""
    loader = _loader_for(name)
    if not data:
        raise UnsupportedFile(name, "file is empty")
    if len(data) > max_bytes:
        raise UnsupportedFile(name, f"file is larger than the {_human(max_bytes)} limit")
    try:
        sections = loader(data, name, max_bytes)
    except OSError as exc:
        raise UnsupportedFile(name, f"file could not be read ({exc.strerror or exc})") from None
    sections = [s for s in sections if s.text.strip()]
    if not sections:
        raise UnsupportedFile(name, "contains no text")
    return sections
