"""Names that become paths: knowledge bases and stored files never escape their folder."""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePath

from ingest.errors import InvalidName

_KB_NAME = re.compile(r"^[\w\u4e00-\u9fff][\w\u4e00-\u9fff.-]{0,63}$")
_UNSAFE_CHARS = re.compile(r'[\x00-\x1f<>:"/\\|?*]')
# File systems allow 255 bytes per name; the rest is room for staging names (".name.part").
MAX_NAME_BYTES = 200
MAX_SUFFIX_CHARS = 16


def validate_kb_name(name: str) -> str:
    """Return ``name`` if it is a safe knowledge-base name, else raise InvalidName.

    Allowed: letters (Chinese too), digits, '_', '-', '.', at most 64 characters, not starting
    with '.' or '-', never '..'.
    """
    if not _KB_NAME.match(name or "") or ".." in name:
        raise InvalidName(
            f"invalid knowledge base name {name!r}: use letters, digits, '_', '-' or '.', "
            "at most 64 characters, no path separators or '..'"
        )
    return name


def safe_file_name(name: str) -> str:
    """Reduce an uploaded or given file name to a bare, safe file name.

    Path parts are dropped (``../../etc/passwd`` becomes ``passwd``), control and reserved
    characters become '_', a long name is cut to 200 bytes keeping its extension, and the result
    is never empty, '.' or '..'.
    """
    base = PurePath(name.replace("\\", "/")).name
    base = unicodedata.normalize("NFC", base).strip().lstrip(".")
    base = _fit(_UNSAFE_CHARS.sub("_", base))
    if not base or base in {".", ".."}:
        raise InvalidName(f"invalid file name {name!r}")
    return base


def _fit(base: str) -> str:
    """``base`` cut to MAX_NAME_BYTES of UTF-8 (never inside a character), keeping its extension."""
    if len(base.encode("utf-8")) <= MAX_NAME_BYTES:
        return base
    suffix = PurePath(base).suffix if len(PurePath(base).suffix) <= MAX_SUFFIX_CHARS else ""
    stem = base[: len(base) - len(suffix)].encode("utf-8")[: MAX_NAME_BYTES - len(suffix.encode("utf-8"))]
    return stem.decode("utf-8", "ignore") + suffix


def safe_relative_name(relative: str) -> str:
    """A document name for a file found under a source folder: each path part made safe."""
    parts = [p for p in relative.replace("\\", "/").split("/") if p not in {"", "."}]
    if not parts or ".." in parts:
        raise InvalidName(f"invalid file name {relative!r}")
    return "/".join(safe_file_name(p) for p in parts)
