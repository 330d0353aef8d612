"""Spreadsheets: Excel .xlsx and .csv/.tsv files as Markdown tables, the header row in every Section."""

from __future__ import annotations

import csv
import datetime as dt
import io

from ingest.errors import UnsupportedFile
from ingest.loaders.tables import sheet_sections
from ingest.loaders.text import decode_text
from ingest.loaders.zipped import check_zip
from ingest.types import Section

_DELIMITERS = ",;\t|"
_SNIFF_CHARS = 64 * 1024


def value_text(value: object) -> str:
    """A cell value as a person reads it: dates in ISO 8601, whole floats without ".0", TRUE/FALSE."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(timespec="seconds")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, float):
        return format(value, ".15g")  # drops binary noise such as 0.30000000000000004
    return str(value)


def load_xlsx(data: bytes, name: str, max_bytes: int) -> list[Section]:
    """One family of kind="table" Sections per worksheet, headed by the sheet's name; formulas give
    the values Excel cached when it last saved the file (a file never opened in Excel has none)."""
    import openpyxl

    check_zip(data, name, max_bytes, "Excel .xlsx", ".xls")
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # BadZipFile, KeyError for a missing part, XML and value errors
        reason = "is not a valid Excel .xlsx file (damaged, or an old .xls renamed: save it as .xlsx)"
        raise UnsupportedFile(name, reason) from None
    try:
        sections: list[Section] = []
        for sheet in workbook.worksheets:
            sheet.reset_dimensions()  # some writers leave a wrong <dimension> ("A1"), which would cut rows off
            values = enumerate(sheet.iter_rows(values_only=True), start=1)  # absent rows come back empty
            sections += sheet_sections([(n, [value_text(v) for v in row]) for n, row in values], sheet.title)
    except Exception:  # a sheet's XML can be damaged while the workbook part is fine
        raise UnsupportedFile(name, "is a damaged Excel .xlsx file (a worksheet cannot be read)") from None
    finally:
        workbook.close()
    return sections


def load_csv(data: bytes, name: str, max_bytes: int) -> list[Section]:
    """A .csv or .tsv file (any encoding decode_text reads) as kind="table" Sections; the delimiter
    is sniffed from the start of the file; ``first_line`` is the line where a Section's first row starts."""
    text = decode_text(data, name)
    default = "\t" if name.lower().endswith(".tsv") else ","
    try:
        delimiter = csv.Sniffer().sniff(text[:_SNIFF_CHARS], delimiters=_DELIMITERS).delimiter
    except csv.Error:  # one column, or too irregular to tell
        delimiter = default
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for cells in reader:
            rows.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise UnsupportedFile(name, f"is not a readable table (line {reader.line_num}: {exc})") from None
    return sheet_sections(rows, heading=None)
