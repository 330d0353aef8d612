"""Names that become paths or travel between machines: knowledge bases and documents.

A knowledge base must survive being copied to another operating system, so names Windows cannot
create (CON, NUL.txt, COM1, a trailing dot or space) are refused for knowledge bases and
rewritten for files; and names are limited in UTF-8 bytes, not characters (file systems count
bytes: 200 Chinese characters are 600 of them), by shortening the stem, never the extension.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePath

from ingest.errors import InvalidName

MAX_KB_NAME = 64
MAX_NAME_BYTES = 200  # of one file name (a path part); file systems allow 255
MAX_SUFFIX = 16  # characters of an extension kept whole when a long name is shortened
_KB_NAME = re.compile(rf"^[\w\u4e00-\u9fff][\w\u4e00-\u9fff.-]{{0,{MAX_KB_NAME - 1}}}$")
_UNSAFE_CHARS = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
_WINDOWS_RESERVED = re.compile(r"(?i)(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?")


def is_windows_reserved(name: str) -> bool:
    """Whether Windows refuses ``name`` as a file or folder name (CON, nul.txt, COM1.log, ...)."""
    return _WINDOWS_RESERVED.fullmatch(name.rstrip(" .")) is not None


def validate_kb_name(name: str) -> str:
    """Return ``name`` if it is a safe knowledge-base name, else raise InvalidName.

    Allowed: letters (Chinese too), digits, '_', '-', '.', at most 64 characters, not starting
    with '.' or '-', not ending with '.', never '..', and no name Windows reserves (CON, NUL, ...).
    """
    if not name:
        raise InvalidName("the knowledge base name is empty: give one with --kb NAME")
    if not _KB_NAME.match(name) or ".." in name or name.endswith("."):
        raise InvalidName(
            f"invalid knowledge base name {name!r}: use letters, digits, '_', '-' or '.', "
            f"at most {MAX_KB_NAME} characters, no path separators or '..', not ending in '.'"
        )
    if is_windows_reserved(name):
        raise InvalidName(f"invalid knowledge base name {name!r}: Windows reserves it (CON, PRN, NUL, COM1, …)")
    return name


def safe_file_name(name: str) -> str:
    """Reduce an uploaded or given file name to a bare, safe, portable file name.

    Path parts are dropped (``../../etc/passwd`` becomes ``passwd``), leading dots, control and
    reserved characters go ('_' instead of the latter), trailing dots and spaces go, a name
    Windows reserves gets a leading '_', and a name over MAX_NAME_BYTES is shortened in its stem.
    The result is never empty, '.' or '..'.
    """
    base = PurePath(name.replace("\\", "/")).name
    base = unicodedata.normalize("NFC", base).strip().lstrip(".")
    return _portable(_UNSAFE_CHARS.sub("_", base), name)


def safe_relative_name(relative: str) -> str:
    """A document name for a file found under a source folder: each path part made safe (a part
    may start with a dot, as .github does)."""
    parts = [p for p in relative.replace("\\", "/").split("/") if p not in {"", "."}]
    if not parts or ".." in parts:
        raise InvalidName(f"invalid file name {relative!r}")
    cleaned = (_UNSAFE_CHARS.sub("_", unicodedata.normalize("NFC", p).strip()) for p in parts)
    return "/".join(_portable(part, relative) for part in cleaned)


def _portable(base: str, original: str) -> str:
    base = base.rstrip(" .")
    if not base or base in {".", ".."}:
        raise InvalidName(f"invalid file name {original!r}")
    if is_windows_reserved(base):
        base = f"_{base}"
    return _shorten(base)


def _shorten(base: str) -> str:
    """``base`` cut to MAX_NAME_BYTES of UTF-8 in its stem, its extension kept."""
    if len(base.encode()) <= MAX_NAME_BYTES:
        return base
    suffix = PurePath(base).suffix
    if len(suffix) > MAX_SUFFIX or len(suffix) == len(base):
        suffix = ""
    stem = base[: len(base) - len(suffix)]
    room = MAX_NAME_BYTES - len(suffix.encode()) - 1  # "~" marks the cut
    while len(stem.encode()) > room:
        stem = stem[:-1]
    return f"{stem.rstrip(' .')}~{suffix}"
