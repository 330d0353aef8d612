"""Checks shared by the Office Open XML formats (.docx .pptx .xlsx), which are zip archives of XML."""

from __future__ import annotations

import io
import zipfile

from ingest.errors import UnsupportedFile
from ingest.loaders.text import human_size

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # compound file: .doc/.xls/.ppt, or an encrypted OOXML file


def unpack_limit(max_bytes: int) -> int:
    """Most bytes an archive may unpack to: XML compresses about 10:1, so twice that is generous."""
    return 20 * max_bytes + 10**7


def check_zip(data: bytes, name: str, max_bytes: int, kind: str, old_suffix: str) -> None:
    """Refuse what an Office parser must not be handed: an old binary or password-protected file,
    something that is not a zip archive, or a zip bomb (one that unpacks to more than unpack_limit,
    which would exhaust memory in the XML parser). ``kind`` names the format ("Excel .xlsx")."""
    if data.startswith(_OLE_MAGIC):
        new = kind.rsplit(" ", 1)[-1]
        reason = f"is not a valid {kind} file: password-protected, or an old {old_suffix} (save it as {new})"
        raise UnsupportedFile(name, reason)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, EOFError):
        raise UnsupportedFile(name, f"is not a valid {kind} file (damaged, or not a {kind} file)") from None
    if unpacked > unpack_limit(max_bytes):
        raise UnsupportedFile(name, f"unpacks to {human_size(unpacked)}, too large to read safely")
