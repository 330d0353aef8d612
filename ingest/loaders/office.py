"""Office documents: Word .docx (headings as sections, tables as Markdown tables)."""

from __future__ import annotations

import io
import re
import zipfile

from ingest.errors import UnsupportedFile
from ingest.loaders.prose import Outline, table_text
from ingest.loaders.text import human_size
from ingest.types import Section


def load_docx(data: bytes, name: str, max_bytes: int) -> list[Section]:
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
        raise UnsupportedFile(name, f"unpacks to {human_size(unpacked)}, too large to read safely")
    outline = Outline("\n\n")
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            rows = ([" ".join(cell.text.split()) for cell in row.cells] for row in block.rows)  # merged cells repeat
            outline.body.append(table_text([c for i, c in enumerate(r) if not i or c != r[i - 1]] for r in rows))
            continue
        text = block.text.strip()
        style = re.fullmatch(r"(?:[Hh]eading|标题)\s*([1-9])", block.style.name if block.style else "")
        if style and text:
            outline.heading(int(style.group(1)), text)
        elif text:
            outline.body.append(text)
    return outline.flush()
