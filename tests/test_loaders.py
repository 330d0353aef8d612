"""Loaders: every supported type from a real file, and a readable refusal for every bad input."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import docx
import pypdf
import pytest

from ingest.errors import UnsupportedFile
from ingest.loaders import SUPPORTED_EXTENSIONS, load_document, normalize_text
from ingest.types import Section

DATA = Path(__file__).parent / "data"
MB = 1024 * 1024


def make_pdf(pages: list[str | None]) -> bytes:
    """A PDF in the built-in Adobe-GB1 font STSong-Light (no font file); None: a blank page."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",  # the page tree, filled in below
        b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H "
        b"/DescendantFonts [<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light "
        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 4 >> >>] >>",
    ]
    kids = []
    for text in pages:
        if text is None:
            ops = ""
        else:
            shown = " ".join(f"<{line.encode('utf-16-be').hex()}> Tj 0 -18 Td" for line in text.split("\n"))
            ops = f"BT /F1 12 Tf 72 760 Td {shown} ET"
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(ops), ops.encode()))
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents %d 0 R "
            b"/Resources << /Font << /F1 3 0 R >> >> >>" % len(objects)
        )
        kids.append(f"{len(objects)} 0 R")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>".encode()
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def encrypt(pdf: bytes, user_password: str) -> bytes:
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(pdf)))
    writer.encrypt(user_password, owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def refusal(path: Path, max_bytes: int = MB) -> str:
    with pytest.raises(UnsupportedFile) as caught:
        load_document(path, max_bytes)
    assert caught.value.file == path.name
    assert "\n" not in str(caught.value)
    return caught.value.reason


def test_txt_in_gbk_utf8_bom_and_utf16(tmp_path: Path) -> None:
    [gbk] = load_document(DATA / "notes_gbk.txt", MB)
    assert gbk.text.startswith("知识库助手说明\n\n本文件以 GBK 编码保存")
    assert "\r" not in gbk.text and gbk.page is None and gbk.heading is None
    text = "第一行，带 BOM。\n第二行。"
    for encoding in ("utf-8-sig", "utf-16", "utf-16-be", "utf-8", "gb18030"):
        path = write(tmp_path / f"{encoding}.txt", text.encode(encoding))
        assert load_document(path, MB) == [Section(text, first_line=1)], encoding


def test_text_is_normalised() -> None:
    raw = "行一   \r\n行二\x00\x07\r\r\n\n\n\n行三\u200b\t \n"
    assert normalize_text(raw) == "行一\n行二\n\n行三"


def test_markdown_sections_follow_the_heading_path() -> None:
    sections = load_document(DATA / "guide.md", MB)
    assert [s.heading for s in sections] == ["安装", "安装 > 依赖", "安装 > 配置", "安装 > 模型路径", "Usage"]
    assert sections[0].text == "安装\n\n先运行 `./start.sh`，脚本会创建虚拟环境。"
    assert "# 这一行是 shell 注释，不是标题" in sections[1].text  # a comment in a code block is no heading
    assert "title:" not in " ".join(s.text for s in sections)  # front matter is dropped
    assert sections[3].text.startswith("模型路径\n\n\n把 `KBA_CHATGLM2_PATH`")  # setext: the === line kept empty
    lines = (DATA / "guide.md").read_text(encoding="utf-8").split("\n")
    for section in sections:  # each section starts on its heading's line of the file
        assert lines[section.first_line - 1].lstrip("# ").startswith(section.text.split("\n")[0])


def test_pdf_pages_are_numbered_from_one(tmp_path: Path) -> None:
    pdf = make_pdf(["第一页：安装说明。\n版本 3.14 已发布。", None, "第三页：常见问题？English too."])
    sections = load_document(write(tmp_path / "手册.pdf", pdf), MB)
    assert sections == [
        Section("第一页：安装说明。\n版本 3.14 已发布。", page=1),
        Section("第三页：常见问题？English too.", page=3),
    ]
    # an empty user password is no protection: such a PDF opens like any other
    assert load_document(write(tmp_path / "owner_only.pdf", encrypt(pdf, "")), MB) == sections


def test_docx_headings_and_tables(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("前言：本手册介绍知识库助手。")
    document.add_heading("安装", 1)
    document.add_paragraph("运行 ./start.sh 即可。")
    document.add_heading("依赖", 2)
    table = document.add_table(rows=2, cols=3)
    for cell, text in zip(table.rows[0].cells, ["包", "版本", "用途"], strict=True):
        cell.text = text
    table.cell(1, 0).text = "pypdf"
    table.cell(1, 1).merge(table.cell(1, 2)).text = "7.1"
    document.add_heading("空的标题", 1)
    document.add_heading("使用", 1)
    document.add_paragraph("在浏览器里提问。")
    document.save(tmp_path / "manual.docx")
    assert load_document(tmp_path / "manual.docx", MB) == [
        Section("前言：本手册介绍知识库助手。"),
        Section("安装\n\n运行 ./start.sh 即可。", heading="安装"),
        Section("依赖\n\n| 包 | 版本 | 用途 |\n|---|---|---|\n| pypdf | 7.1 | |", heading="安装 > 依赖"),
        Section("使用\n\n在浏览器里提问。", heading="使用"),
    ]


def test_html_drops_scripts_and_navigation_and_keeps_sections() -> None:
    sections = load_document(DATA / "faq.html", MB)  # GBK bytes labelled gb2312
    everything = "\n".join(s.text for s in sections)
    for hidden in ("不应出现", "tracking", "font-family", "导航", "首页"):
        assert hidden not in everything
    assert sections[0] == Section("本页回答关于知识库助手的常见问题。", heading="知识库助手 - 常见问题")
    assert [s.heading for s in sections[1:]] == ["导入文档", "导入文档 > 文件大小", "隐私"]
    assert sections[1].text == "导入文档\n\n支持 txt、md、pdf、docx 和 html 五种格式， 单个文件默认不超过 200 MB。"
    assert "| KBA_MAX_FILE_MB | 200 |" in sections[2].text
    assert sections[3].text == (
        "隐私\n\n所有数据留在本机。\n不需要联网。\n\npython -m ingest stats --kb default\n    --verbose"
    )


def test_supported_extensions_are_case_insensitive(tmp_path: Path) -> None:
    documents = {".txt", ".md", ".markdown", ".pdf", ".docx", ".html", ".htm", ".pptx", ".xlsx", ".csv", ".tsv"}
    images = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}
    assert documents | images | {".py", ".go", ".toml"} <= set(SUPPORTED_EXTENSIONS)
    path = write(tmp_path / "README.MARKDOWN", "# 标题\n\n正文。".encode())
    assert load_document(path, MB) == [Section("标题\n\n正文。", heading="标题", first_line=1)]


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("slides.key", b"PK\x03\x04", "not supported; use one of .txt, .md, .markdown, .pdf"),
        ("Vagrantfile2", b"stuff", "with no extension is not supported"),
        ("empty.txt", b"", "file is empty"),
        ("blank.md", b"  \n\n\t\n", "contains no text"),
        ("broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog", "PDF is damaged or not a PDF"),
        ("notes.pdf", "其实是一段文字。".encode(), "PDF is damaged or not a PDF"),
        ("blank.pdf", make_pdf([None, None]), "PDF has no text: its pages are blank"),
        ("locked.pdf", encrypt(make_pdf(["机密。"]), "secret"), "PDF is password-protected"),
        ("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, "not a text file"),
        ("random.txt", bytes(range(128, 256)) * 8, "not a text file"),
        ("old.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "not a valid Word .docx file"),
        ("half.html", b"\x00\x01\x02\x03" * 50, "not a text file"),
    ],
)
def test_bad_files_are_refused_with_a_reason(tmp_path: Path, name: str, data: bytes, expected: str) -> None:
    assert expected in refusal(write(tmp_path / name, data))


def test_zip_without_a_document_is_not_a_docx(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "not word")
    assert "not a valid Word .docx file" in refusal(write(tmp_path / "fake.docx", buffer.getvalue()))


def test_size_is_checked_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "big.txt", "大".encode() * 2000)  # 6000 bytes

    def no_reading(*args: object, **kwargs: object) -> None:
        raise AssertionError("the file was opened")

    monkeypatch.setattr(Path, "open", no_reading)
    assert refusal(path, max_bytes=4096) == "file is 5.9 KB, larger than the 4.0 KB limit"


def test_a_vanished_file_is_reported(tmp_path: Path) -> None:
    assert refusal(tmp_path / "gone.md") == "file disappeared before it could be read"


def test_a_file_that_vanishes_while_being_opened_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "racy.txt", "内容。".encode())

    def vanish(*args: object, **kwargs: object) -> None:
        raise FileNotFoundError(2, "No such file or directory")

    monkeypatch.setattr(Path, "open", vanish)
    assert refusal(path) == "file disappeared before it could be read"


@pytest.mark.parametrize("name", ["README", "Changelog", "LICENSE", "COPYING", "MANIFEST.in", "AUTHORS"])
def test_project_documents_without_an_extension_are_read_as_text(tmp_path: Path, name: str) -> None:
    path = write(tmp_path / name, "结巴分词的更新记录。\n\n版本 0.42.1：修复问题。".encode())
    [section] = load_document(path, MB)
    assert section.text.startswith("结巴分词的更新记录") and section.first_line == 1
