"""Prose formats: plain text, Markdown and HTML, sections by heading."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from bs4 import BeautifulSoup, NavigableString, Tag

from ingest.loaders.text import decode_text, normalize_lines, normalize_text, strip_blank_lines
from ingest.types import Section

_HTML_DROP = {"script", "style", "nav", "noscript", "template", "svg", "iframe", "head"}
_HTML_PARA = {"p", "pre", "ul", "ol", "dl", "blockquote", "section", "article", "main", "figure", "hr"}
_HTML_LINE = {"div", "li", "dt", "dd", "tr", "br", "header", "footer", "aside", "caption", "figcaption"}


def load_txt(data: bytes, name: str, max_bytes: int) -> list[Section]:
    text, first_line = strip_blank_lines(normalize_lines(decode_text(data, name)), 1)
    return [Section(text, first_line=first_line)]


class Outline:
    """Collects Sections under a heading path ("安装 > 依赖") as headings arrive in reading order.

    With ``lines`` (formats read line by line, joined by "\n"), each section knows the file line
    its text starts on: the caller passes a heading's line number and adds one body entry per line.
    """

    def __init__(self, joiner: str, untitled: str | None = None, lines: bool = False) -> None:
        self.joiner, self.untitled = joiner, untitled  # untitled: heading of text before any heading
        self.sections: list[Section] = []
        self.path: list[tuple[int, str]] = []
        self.body: list[str] = []
        self.start: int | None = 1 if lines else None  # file line of body[0]

    def heading(self, level: int, title: str, line: int | None = None) -> None:
        self.flush()
        self.path = [(lvl, t) for lvl, t in self.path if lvl < level] + [(level, title)]
        self.body = [title]  # the title stays in the text: words in it are searched too
        self.start = line

    def flush(self) -> list[Section]:
        if any(block.strip() for block in self.body[1 if self.path else 0 :]):  # not just a title
            heading = " > ".join(t for _, t in self.path) or self.untitled
            text = self.joiner.join(self.body)
            if self.start is None:
                self.sections.append(Section(normalize_text(text), heading=heading))
            else:
                text, first_line = strip_blank_lines(text, self.start)
                self.sections.append(Section(text, heading=heading, first_line=first_line))
        self.body = []
        return self.sections


_FENCE = re.compile(r"\s*(```|~~~)")
_ATX = re.compile(r" {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*")


def load_markdown(data: bytes, name: str, max_bytes: int) -> list[Section]:
    lines = normalize_lines(decode_text(data, name)).split("\n")
    skipped = 0
    if lines[0] == "---" and "---" in lines[1:]:  # YAML front matter: metadata, not prose
        skipped = lines.index("---", 1) + 1
        lines = lines[skipped:]
    outline, fence = Outline("\n", lines=True), ""
    outline.start = skipped + 1
    for number, line in enumerate(lines, start=skipped + 1):
        body = outline.body
        if fence:
            fence = "" if line.strip().startswith(fence) else fence
        elif m := _FENCE.match(line):
            fence = m.group(1)
        elif (m := _ATX.fullmatch(line)) and m.group(2):
            outline.heading(len(m.group(1)), m.group(2), number)
            continue
        elif re.fullmatch(r"=+|-{2,}", line) and body and body[-1].strip() and (len(body) < 2 or not body[-2]):
            outline.heading(1 if line[0] == "=" else 2, body.pop().strip(), number - 1)  # setext: title, ===
            outline.body.append("")  # the underline's line: kept empty so lines still count right
            continue
        outline.body.append(line)
    return outline.flush()


def table_text(rows: Iterable[list[str]]) -> str:
    return "\n".join("| " + " | ".join(cells) + " |" for cells in rows if cells)


def load_html(data: bytes, name: str, max_bytes: int) -> list[Section]:
    declared = re.search(rb"""<meta[^>]+charset=["']?([\w-]+)""", data[:4096], re.IGNORECASE)
    encoding = declared.group(1).decode().lower() if declared else ""
    try:  # pages labelled gb2312 routinely use GBK characters: read them as GB18030
        markup = data.decode("gb18030" if encoding in {"gb2312", "gbk"} else encoding)
    except (LookupError, UnicodeDecodeError):  # also: no charset declared
        markup = decode_text(data, name)
    soup = BeautifulSoup(markup, "html.parser")
    outline = Outline("\n\n", soup.title.get_text(" ", strip=True) or None if soup.title else None)
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
                out.append("\n\n" + table_text(rows) + "\n\n")
            else:
                sep = "\n\n" if node.name in _HTML_PARA else "\n" if node.name in _HTML_LINE else ""
                stack.append((sep, in_pre))
                stack.extend((child, in_pre or node.name == "pre") for child in reversed(node.contents))
                stack.append((sep, in_pre))
    outline.body.append("".join(out))
    return outline.flush()
