"""Bytes -> text shared by every loader: encodings (BOM, UTF-8, GBK/GB18030, a best guess) and clean-up."""

from __future__ import annotations

import codecs
import re

import charset_normalizer

from ingest.errors import UnsupportedFile

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\u200b\ufeff]")
# UTF-32 LE first: its BOM starts with the UTF-16 LE one.
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"))
_BOMS += ((codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_CJK = re.compile(r"[\u2000-\u206f\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")


def mostly_cjk(text: str) -> bool:
    """Whether the non-ASCII characters of ``text`` are mostly CJK (and its punctuation): real Chinese
    decoded as GB18030 is; Latin-1 or Big5 bytes that happen to decode as GB18030 are not."""
    wide = sum(1 for ch in text if ord(ch) > 127)
    return len(_CJK.findall(text)) >= 0.9 * wide


def normalize_text(text: str) -> str:
    """Unify newlines, drop NUL/control characters, strip trailing spaces, keep at most one blank line."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n").replace("\u00a0", " ")
    text = _CONTROL.sub("", text)
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def normalize_lines(text: str) -> str:
    """Like normalize_text, but every line stays where it was (no blank line is dropped), so
    offsets in the result map to the file's line numbers: for formats cited by line."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "").replace("\u00a0", " ")
    return "\n".join(line.rstrip() for line in _CONTROL.sub("", text).split("\n"))


def strip_blank_lines(text: str, first_line: int) -> tuple[str, int]:
    """``text`` without leading and trailing blank lines, and the line its first remaining line had."""
    body = text.lstrip("\n")
    return body.rstrip(), first_line + len(text) - len(body)


def human_size(n: float) -> str:
    """``n`` bytes for people: "3.0 MB", "5.9 KB", "12 bytes"."""
    return f"{n / 1048576:.1f} MB" if n >= 1048576 else f"{n / 1024:.1f} KB" if n >= 1024 else f"{n:g} bytes"


def over_size_limit(size: int, max_bytes: int) -> str:
    """The one reason a file too large is refused with, wherever it is found."""
    return f"file is {human_size(size)}, over the {human_size(max_bytes)} limit"


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
        if encoding == "utf-8" or mostly_cjk(text):
            return text
    text = str(guess) if (guess := charset_normalizer.from_bytes(data).best()) else ""
    if not text or len(_CONTROL.findall(text)) > 0.05 * len(text):
        raise binary
    return text
