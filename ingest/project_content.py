"""What a file's first bytes say about it: binary, minified, or generated data rather than code.

Nothing here reads a whole file: at most the first 64 KB, plus 64 KB from the middle of a file
over the generated-data limit.

Generated data is measured on tokens. Every string or number literal (and true/false/null/None)
counts as data, every identifier or keyword as code; punctuation is left out because code and data
tables are both full of it (with it, jieba's hand-written tests already score 0.70). Measured
share of literals among those tokens:

    jieba  prob_emit.py, prob_trans.py, char_state_tab.py, posseg/prob_start.py   0.999 - 1.000
           finalseg/prob_start.py (93 bytes), finalseg/prob_trans.py (241 bytes)  0.89, 0.95
           __init__.py, posseg/__init__.py; the 36 test scripts                  0.09; 0.09 - 0.46
    click  every file under src/, docs/, tests/ (highest: tests/test_utils/test_style.py, ANSI
           escape strings)                                                          at most 0.74

So a file is generated data from 0.85 on. Program source (.py, .js, .go ...) is judged at any
size, as long as it holds at least 8 literals (a table, not a constant or a docstring): that is
what jieba's small probability tables are. Data formats and prose (.json, .csv, .yaml, .txt, .md)
are judged only over the limit, where fewer than 1 line in 20 distinct (rows a generator
repeated) also counts: a data file under the limit is always kept.
"""

from __future__ import annotations

import codecs
import os
import re

from ingest.loaders.text import human_size, mostly_cjk

BINARY = "binary"
MINIFIED = "minified"
GENERATED = "generated data"

HEAD_BYTES = 8 * 1024
SAMPLE_BYTES = 64 * 1024

# Formats the loaders read as binary on purpose: only the is_supported predicate judges them.
BINARY_FORMATS = frozenset(
    {".pdf", ".docx", ".pptx", ".xlsx", ".doc", ".ppt", ".xls", ".odt", ".odp", ".ods", ".epub"}
    | {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp"}
)
_PROSE = frozenset({"", ".txt", ".md", ".markdown", ".rst", ".adoc", ".org", ".tex", ".csv", ".tsv", ".log"})
_PROGRAMS = frozenset(
    {".py", ".pyi", ".pyx", ".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx", ".java", ".kt", ".scala", ".go"}
    | {".rs", ".c", ".h", ".cc", ".cpp", ".cxx", ".hpp", ".cs", ".rb", ".php", ".swift", ".lua", ".r"}
    | {".m", ".pl", ".sh", ".dart", ".jl", ".ex", ".exs", ".erl", ".hs", ".clj", ".vue", ".svelte"}
)
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig", "utf-8"), (codecs.BOM_UTF16_LE, "utf-16", "utf-16-le"))
_BOMS += ((codecs.BOM_UTF16_BE, "utf-16", "utf-16-be"),)
_CONTROL = re.compile(r"[\x01-\x08\x0e-\x1a\x1c-\x1f\x7f]")
_TOKEN = re.compile(
    r'(?P<lit>"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\''
    r"|(?<![\w.])[-+]?(?:0[xX][0-9a-fA-F]+|\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?))"
    r"|(?P<word>[^\W\d]\w*)"
)
_LITERAL_WORDS = frozenset({"true", "false", "null", "nil", "True", "False", "None"})


def text_encoding(head: bytes, whole: bool) -> tuple[str, str] | None:
    """(encoding for the head, encoding for a later slice) when ``head`` is text, else None.

    Text is UTF-8, UTF-16 with a BOM, or GB18030 that is mostly CJK (Latin-1 or random bytes can
    decode as GB18030 by chance). ``whole`` says ``head`` is the entire file, so a character cut
    at the end of the sample is not an error.
    """
    for bom, encoding, later in _BOMS:
        if head.startswith(bom):
            return (encoding, later) if _decodes(head, encoding, whole) else None
    if b"\x00" in head:
        return None
    for encoding in ("utf-8", "gb18030"):
        if (text := _decodes(head, encoding, whole)) is None:
            continue
        if len(_CONTROL.findall(text)) > 0.05 * max(1, len(text)):
            return None
        if encoding == "utf-8" or mostly_cjk(text):
            return encoding, encoding
    return None


def _decodes(data: bytes, encoding: str, whole: bool) -> str | None:
    try:
        return codecs.getincrementaldecoder(encoding)().decode(data, final=whole)
    except UnicodeDecodeError:
        return None


def suffix_of(name: str) -> str:
    """The lower-case extension of a file name ("" for none, and for dot-files like .bashrc)."""
    return os.path.splitext(name)[1].lower()


def is_minified_name(name: str) -> bool:
    """.min.js and .min.css files, known without reading them."""
    return name.lower().endswith((".min.js", ".min.css"))


def minified_detail(name: str, text: str) -> str | None:
    """Why ``text`` (a file's first 64 KB) reads as minified code, or None. Prose is never minified."""
    if suffix_of(name) in _PROSE:
        return None
    lines = text.split("\n")
    longest = max(len(line) for line in lines)
    if longest > 4000:
        return f"a line of {longest:,}+ characters"
    average = len(text) / len(lines)
    if len(text) >= 2000 and average > 400:  # a short file of one or two long lines is no bundle
        return f"lines of {average:.0f} characters on average"
    return None


def generated_detail(name: str, sample: str, size: int, limit: int) -> str | None:
    """Why a text file of ``size`` bytes, of which ``sample`` was read, is generated data, or None."""
    over_limit = size > limit
    if not over_limit and suffix_of(name) not in _PROGRAMS:
        return None
    literals = words = 0
    for match in _TOKEN.finditer(sample):
        if match.lastgroup == "lit" or match.group() in _LITERAL_WORDS:
            literals += 1
        else:
            words += 1
    share = literals / max(1, literals + words)
    if share >= 0.85 and literals >= 8:
        return f"{human_size(size)}, {share * 100:.0f} % literal values"
    rows = [line.strip() for line in sample.split("\n") if line.strip()]
    if over_limit and len(rows) >= 1000 and len(set(rows)) < len(rows) / 20:
        return f"{human_size(size)}, {len(set(rows)) * 100 / len(rows):.1f} % distinct lines"
    return None
