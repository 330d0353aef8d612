"""Office loaders on real files made here: PowerPoint slides, Excel sheets, CSV/TSV and Word tables."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path

import docx
import openpyxl
import pptx
import pytest
from pptx.util import Inches

from ingest.errors import UnsupportedFile
from ingest.loaders import load_document, parse_document
from ingest.loaders.office import NOTES_LINE
from ingest.loaders.tables import TABLE_SECTION_CHARS
from ingest.types import Section

MB = 1024 * 1024


def refusal(name: str, data: bytes, max_bytes: int = MB) -> str:
    with pytest.raises(UnsupportedFile) as caught:
        parse_document(name, data, max_bytes)
    assert caught.value.file == name and "\n" not in str(caught.value)
    return caught.value.reason


def saved(document: object) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)  # type: ignore[attr-defined]
    return buffer.getvalue()


def make_pptx() -> bytes:
    deck = pptx.Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[1])  # title and content
    first.shapes.title.text = "安装步骤"
    first.placeholders[1].text_frame.text = "第一步：运行 start.sh\n第二步：打开浏览器"
    table = first.shapes.add_table(3, 2, Inches(1), Inches(5), Inches(6), Inches(1)).table
    for (r, c), text in {(0, 0): "包", (0, 1): "版本", (1, 0): "pypdf", (1, 1): "7.1", (2, 0): "a|b"}.items():
        table.cell(r, c).text = text
    first.notes_slide.notes_text_frame.text = "讲到这里\n停一下。"
    deck.slides.add_slide(deck.slide_layouts[6])  # blank: no text at all
    deck.slides.add_slide(deck.slide_layouts[1])  # empty placeholders only
    third = deck.slides.add_slide(deck.slide_layouts[6])
    group = third.shapes.add_group_shape()
    group.shapes.add_textbox(Inches(1), Inches(3), Inches(3), Inches(1)).text_frame.text = "下方的框"
    group.shapes.add_textbox(Inches(1), Inches(1), Inches(3), Inches(1)).text_frame.text = "上方的框"
    third.shapes.add_textbox(Inches(5), Inches(0.5), Inches(3), Inches(1)).text_frame.text = "右上角"
    only_notes = deck.slides.add_slide(deck.slide_layouts[6])
    only_notes.notes_slide.notes_text_frame.text = "只有备注的一页。"
    return saved(deck)


def test_pptx_one_section_per_slide_with_title_body_table_and_notes() -> None:
    sections = parse_document("deck.pptx", make_pptx(), MB)
    assert [s.page for s in sections] == [1, 4, 5]  # slides 2 and 3 have no text and give nothing
    assert all(s.kind == "slides" and not s.ocr for s in sections)
    first, grouped, notes_only = sections
    assert first == Section(
        "安装步骤\n\n第一步：运行 start.sh\n第二步：打开浏览器\n\n"
        "| 包 | 版本 |\n|---|---|\n| pypdf | 7.1 |\n| a\\|b | |\n\n"
        f"{NOTES_LINE}\n讲到这里\n停一下。",
        page=1,
        heading="安装步骤",
        kind="slides",
    )
    assert grouped.heading is None
    assert grouped.text == "右上角\n\n上方的框\n\n下方的框"  # top to bottom, inside the group too
    assert notes_only.text == f"{NOTES_LINE}\n只有备注的一页。"


def make_xlsx(rows: int = 80) -> bytes:
    book = openpyxl.Workbook()
    sales = book.active
    sales.title = "销售"
    sales.append([])  # an empty first row: the header is the first row with text
    sales.append(["日期", "产品", "数量", "单价", "金额", None])
    for i in range(rows):
        day = dt.date(2024, 1, 1) + dt.timedelta(days=i)
        sales.append([day, f"产品{i}|型号", i, 2.5, f"=C{i + 3}*D{i + 3}", None])
    sales.append([dt.datetime(2024, 5, 6, 14, 30), "合计", None, None, None])
    for _ in range(5):
        sales.append([None, None])  # empty trailing rows
    book.create_sheet("空表")
    notes = book.create_sheet("说明")
    notes["B2"] = "备注"
    notes["B3"] = True
    notes["C3"] = 0.1 + 0.2
    return saved(book)


def with_cached_values(xlsx: bytes) -> bytes:
    """The file as Excel would save it: each formula with the value it last computed."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":

                def cached(m: re.Match[str]) -> str:
                    row = int(m.group(1))
                    return f"<f>C{row}*D{row}</f><v>{(row - 3) * 2.5:g}</v>"

                data = re.sub(r"<f>C(\d+)\*D\1</f><v\s*/?>(?:</v>)?", cached, data.decode()).encode()
            target.writestr(info, data)
    return out.getvalue()


def test_xlsx_sections_repeat_the_header_and_carry_row_numbers() -> None:
    sections = parse_document("报表.xlsx", with_cached_values(make_xlsx()), MB)
    sales = [s for s in sections if s.heading == "销售"]
    assert len(sales) >= 3 and all(s.kind == "table" and s.page is None for s in sales)
    header = "| 日期 | 产品 | 数量 | 单价 | 金额 |\n|---|---|---|---|---|\n"
    for section in sales:
        assert section.text.startswith(header)
        assert len(section.text) <= TABLE_SECTION_CHARS
        first_data = section.text.split("\n")[2]
        row = section.first_line
        assert first_data == f"| {dt.date(2024, 1, 1) + dt.timedelta(days=row - 3)} | 产品{row - 3}\\|型号 | " + (
            f"{row - 3} | 2.5 | {(row - 3) * 2.5:g} |"
        )
    assert sales[0].first_line == 3  # row 2 is the header, row 1 is empty
    data_rows = [line for s in sales for line in s.text.split("\n")[2:]]
    assert len(data_rows) == 81  # every row once, in order; empty trailing rows and the empty column dropped
    assert data_rows[0] == "| 2024-01-01 | 产品0\\|型号 | 0 | 2.5 | 0 |"
    assert data_rows[5] == "| 2024-01-06 | 产品5\\|型号 | 5 | 2.5 | 12.5 |"  # a formula's cached value
    assert data_rows[-1] == "| 2024-05-06T14:30:00 | 合计 | | | |"
    assert [s.heading for s in sections if s.heading != "销售"] == ["说明"]  # the empty sheet gives nothing
    assert sections[-1] == Section("| 备注 | |\n|---|---|\n| TRUE | 0.3 |", heading="说明", first_line=3, kind="table")


def test_xlsx_formula_without_a_cached_value_is_empty_not_code() -> None:
    sections = parse_document("fresh.xlsx", make_xlsx(rows=1), MB)
    assert sections[0].text.split("\n")[2] == "| 2024-01-01 | 产品0\\|型号 | 0 | 2.5 | |"
    assert "=C3" not in sections[0].text


@pytest.mark.parametrize(
    ("name", "data", "first"),
    [
        ("逗号.csv", "名称,数量\n苹果,3\n香蕉,5\n".encode(), "| 苹果 | 3 |"),
        ("分号.csv", b"name;qty\napple;3\nbanana;5\n", "| apple | 3 |"),
        ("制表.tsv", "名称\t数量\n苹果\t3\n香蕉\t5\n".encode(), "| 苹果 | 3 |"),
        ("gbk.csv", "名称,数量\n苹果,3\n香蕉,5\n".encode("gbk"), "| 苹果 | 3 |"),
        ("bom.csv", "名称,数量\n苹果,3\n香蕉,5\n".encode("utf-8-sig"), "| 苹果 | 3 |"),
    ],
)
def test_csv_and_tsv_delimiters_and_encodings(name: str, data: bytes, first: str) -> None:
    [section] = parse_document(name, data, MB)
    lines = section.text.split("\n")
    assert lines[1] == "|---|---|" and lines[2] == first and len(lines) == 4
    assert section.kind == "table" and section.first_line == 2 and section.heading is None


def test_csv_rows_keep_their_line_numbers_across_quoted_newlines() -> None:
    text = 'id,说明\n1,"第一行\n接着一行"\n2,"含 | 竖线"\n\n3,最后\n'
    [section] = parse_document("notes.csv", text.encode(), MB)
    assert section.text == "| id | 说明 |\n|---|---|\n| 1 | 第一行 接着一行 |\n| 2 | 含 \\| 竖线 |\n| 3 | 最后 |"
    rows = "\n".join(f"{i},{'值' * 30}" for i in range(1, 200))
    sections = parse_document("long.csv", f"id,值\n{rows}\n".encode(), MB)
    assert len(sections) > 5 and all(s.text.startswith("| id | 值 |\n|---|---|\n") for s in sections)
    for section in sections:  # the file line of a section's first row holds that row
        assert section.text.split("\n")[2].startswith(f"| {section.first_line - 1} |")


def test_docx_tables_are_markdown_tables_in_reading_order(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_heading("依赖", 1)
    document.add_paragraph("表格之前的一段。")
    table = document.add_table(rows=3, cols=3)
    for (r, c), text in {(0, 0): "包", (0, 1): "版本", (0, 2): "用途", (1, 0): "pypdf", (2, 0): "a|b"}.items():
        table.cell(r, c).text = text
    table.cell(1, 1).merge(table.cell(1, 2)).text = "7.1"
    table.cell(2, 2).text = "两行\n内容"
    document.add_paragraph("表格之后的一段。")
    document.save(tmp_path / "deps.docx")
    [section] = load_document(tmp_path / "deps.docx", MB)
    assert section == Section(
        "依赖\n\n表格之前的一段。\n\n"
        "| 包 | 版本 | 用途 |\n|---|---|---|\n| pypdf | 7.1 | |\n| a\\|b | | 两行 内容 |\n\n表格之后的一段。",
        heading="依赖",
    )


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600)


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("deck.pptx", b"PK\x03\x04 truncated", "is not a valid PowerPoint .pptx file (damaged"),
        ("deck.pptx", zip_of({"hello.txt": b"hi"}), "is not a valid PowerPoint .pptx file (damaged"),
        ("deck.pptx", OLE, "password-protected, or an old .ppt (save it as .pptx)"),
        ("book.xlsx", b"not a zip at all", "is not a valid Excel .xlsx file (damaged"),
        ("book.xlsx", zip_of({"hello.txt": b"hi"}), "is not a valid Excel .xlsx file (damaged"),
        ("book.xlsx", OLE, "password-protected, or an old .xls (save it as .xlsx)"),
        ("word.docx", OLE, "password-protected, or an old .doc (save it as .docx)"),
        ("data.csv", bytes(range(256)) * 8, "not a text file"),
        ("data.tsv", b"\t\n\t\t\n", "contains no text"),
    ],
)
def test_damaged_office_files_are_refused_with_a_reason(name: str, data: bytes, expected: str) -> None:
    assert expected in refusal(name, data)


def test_xlsx_with_a_damaged_worksheet_is_refused() -> None:
    files = {}
    with zipfile.ZipFile(io.BytesIO(make_xlsx(rows=2))) as archive:
        files = {n: archive.read(n) for n in archive.namelist()}
    files["xl/worksheets/sheet1.xml"] = files["xl/worksheets/sheet1.xml"][:300]  # cut mid-tag
    assert "damaged Excel .xlsx file" in refusal("cut.xlsx", zip_of(files))


@pytest.mark.parametrize("name", ["bomb.docx", "bomb.pptx", "bomb.xlsx"])
def test_zip_bombs_are_refused_before_parsing(name: str) -> None:
    bomb = zip_of({"[Content_Types].xml": b"<Types/>", "padding.xml": bytes(12 * MB)})
    assert len(bomb) < 64 * 1024
    assert refusal(name, bomb, max_bytes=64 * 1024).startswith("unpacks to 12.0 MB, too large to read safely")
