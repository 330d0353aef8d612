"""Offline OCR with the real engine on pages rendered here from known text: images, TIFF pages,
scanned and mixed PDFs, pages OCR fails on, and an engine that cannot be loaded."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import pypdf
import pytest
from PIL import Image
from test_loaders import make_pdf

from bench.scanned import font, image_pdf, recovered, render_page, wrap
from ingest.errors import UnsupportedFile
from ingest.loaders import ocr, parse_document
from ingest.types import Section

MB = 1024 * 1024
PARAGRAPHS = [
    "知识库助手把文档切成段落，用向量检索和关键词检索找到答案。The assistant cites page 3 of guide.pdf.",
    "安装依赖：pip install -r requirements.txt，然后运行 start.sh 启动服务。",
]
KEY_WORDS = ("知识库助手", "向量检索", "guide.pdf", "requirements.txt", "start.sh")


def page(paragraphs: list[str] = PARAGRAPHS, seed: int = 1) -> tuple[Image.Image, str]:
    """A small noisy, slightly rotated scan of ``paragraphs`` and the text drawn on it."""
    lines = wrap(paragraphs, font(30), 820)
    rng = np.random.default_rng(seed)
    return render_page(lines, size=(960, 420), margin=60, rng=rng, noise=12, max_rotation=0.8), "\n".join(lines)


def encoded(image: Image.Image, kind: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, kind, **options)
    return buffer.getvalue()


def refusal(name: str, data: bytes) -> str:
    with pytest.raises(UnsupportedFile) as caught:
        parse_document(name, data, MB)
    assert caught.value.file == name and "\n" not in str(caught.value)
    return caught.value.reason


def joined(*pdfs: bytes) -> bytes:
    writer = pypdf.PdfWriter()
    for pdf in pdfs:
        writer.append(pypdf.PdfReader(io.BytesIO(pdf)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_lines_are_read_top_to_bottom_then_left_to_right() -> None:
    def box(left: float, top: float, right: float, bottom: float) -> list[list[float]]:
        return [[left, top], [right, top], [right, bottom], [left, bottom]]

    found = [
        (box(400, 102, 600, 130), "检索。"),
        (box(300, 250, 500, 280), "next paragraph"),
        (box(50, 100, 380, 128), "知识库"),
        (box(50, 140, 200, 170), "cites"),
        (box(210, 141, 420, 169), "page 3"),
        (box(50, 250, 280, 279), "第二段"),
    ]
    assert ocr._reading_order(found) == "知识库检索。\ncites page 3\n\n第二段 next paragraph"
    assert ocr._reading_order([]) == ""


@pytest.mark.slow
def test_a_rendered_page_is_recognised_from_a_png_and_a_jpeg() -> None:
    image, known = page()
    for name, data in (("scan.png", encoded(image, "PNG")), ("scan.jpg", encoded(image, "JPEG", quality=80))):
        [section] = parse_document(name, data, MB)
        assert section.ocr and section.page is None and section.kind == "doc"
        assert recovered(known, section.text) >= 0.9, section.text
        assert all(word in section.text for word in KEY_WORDS), section.text


@pytest.mark.slow
def test_multi_page_tiff_gives_one_section_per_page() -> None:
    first, _ = page(["第一页：安装说明。"])
    second, _ = page(["第二页：常见问题 FAQ。"], seed=2)
    data = encoded(first, "TIFF", save_all=True, append_images=[second], compression="tiff_deflate")
    done: list[tuple[int, int]] = []
    sections = parse_document("pages.tiff", data, MB, progress=lambda d, n: done.append((d, n)))
    assert [(s.page, s.ocr) for s in sections] == [(1, True), (2, True)]
    assert "安装说明" in sections[0].text and "常见问题" in sections[1].text
    assert done == [(0, 2), (1, 2), (2, 2)]


@pytest.mark.slow
def test_an_image_without_text_is_refused() -> None:
    blank = render_page([], size=(800, 600), rng=np.random.default_rng(0), noise=6)
    assert refusal("blank.png", encoded(blank, "PNG")) == "no text found in the image (OCR)"


def test_damaged_images_and_other_formats_are_refused() -> None:
    image, _ = page()
    png = encoded(image, "PNG")
    assert "not a readable image" in refusal("cut.png", png[:40])
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"  # Pillow would run Ghostscript
    assert "not a readable image" in refusal("renamed.png", eps)
    truncated = encoded(image, "JPEG")[:3000]
    assert refusal("cut.jpg", truncated).startswith("image data is damaged (image file is truncated")


def test_decompression_bombs_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    for size in ((120, 100), (300, 300)):  # over the limit (Pillow warns), over twice the limit (Pillow raises)
        data = encoded(Image.new("1", size, 1), "PNG")
        assert refusal("bomb.png", data) == "is larger than the 10,000 pixels an image may have (a decompression bomb?)"


@pytest.fixture
def no_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The OCR package cannot be imported (as when it is not installed)."""
    monkeypatch.setattr(ocr, "_engine", None)
    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)


def test_ocr_unavailable_is_a_reason_per_file_or_per_page(no_engine: None) -> None:
    image, _ = page()
    reason = refusal("scan.png", encoded(image, "PNG"))
    assert reason.startswith("OCR unavailable: rapidocr-onnxruntime cannot be imported")
    assert refusal("scan.pdf", image_pdf([image, image])).startswith("pages 1, 2: OCR unavailable: ")
    warnings: list[str] = []
    mixed = joined(make_pdf(["第一页有文字层：安装说明，版本 3.14。"]), image_pdf([image]))
    sections = parse_document("mixed.pdf", mixed, MB, warnings=warnings)
    assert sections == [Section("第一页有文字层：安装说明，版本 3.14。", page=1)]
    assert len(warnings) == 1 and warnings[0].startswith("page 2: OCR unavailable: rapidocr-onnxruntime")


def test_models_that_fail_to_load_make_ocr_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    import rapidocr_onnxruntime

    def missing_models(*args: object, **kwargs: object) -> None:
        raise FileNotFoundError("models/ch_PP-OCRv4_det_infer.onnx does not exist")

    monkeypatch.setattr(ocr, "_engine", None)
    monkeypatch.setattr(rapidocr_onnxruntime, "RapidOCR", missing_models)
    image, _ = page()
    assert refusal("scan.webp", encoded(image, "WEBP")) == (
        "OCR unavailable: its models failed to load "
        "(FileNotFoundError: models/ch_PP-OCRv4_det_infer.onnx does not exist)"
    )


class FailsOnSecondImage:
    """The real engine, except that its second call raises as ONNX Runtime does on a bad input."""

    def __init__(self, engine: Any) -> None:
        self.engine, self.calls = engine, 0

    def __call__(self, image: Any, **options: Any) -> Any:
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code")
        return self.engine(image, **options)


@pytest.fixture(scope="module")
def real_engine() -> Iterator[Any]:
    yield ocr._load_engine()


@pytest.mark.slow
def test_a_page_ocr_fails_on_is_skipped_and_named(monkeypatch: pytest.MonkeyPatch, real_engine: Any) -> None:
    monkeypatch.setattr(ocr, "_engine", FailsOnSecondImage(real_engine))
    images = [page([f"第{n}页：扫描的说明书，第 {n} 节。"], seed=n)[0] for n in (1, 2, 3)]
    warnings: list[str] = []
    done: list[tuple[int, int]] = []
    sections = parse_document(
        "scan.pdf", image_pdf(images), MB, warnings=warnings, progress=lambda d, n: done.append((d, n))
    )
    assert [(s.page, s.ocr) for s in sections] == [(1, True), (3, True)]
    assert "第1页" in sections[0].text and "第3页" in sections[1].text
    runtime_error = "RuntimeError: [ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code"
    assert warnings == [f"page 2: OCR failed: {runtime_error}"]
    assert done == [(0, 3), (1, 3), (2, 3), (3, 3)]


@pytest.mark.slow
def test_mixed_pdf_reads_text_pages_from_the_layer_and_ocrs_scanned_ones() -> None:
    image, known = page()
    text_page = "第一页有文字层：安装说明，版本 3.14。"
    mixed = joined(make_pdf([text_page]), image_pdf([image]), make_pdf(["第三页：常见问题？English too."]))
    warnings: list[str] = []
    sections = parse_document("mixed.pdf", mixed, MB, warnings=warnings)
    assert [(s.page, s.ocr) for s in sections] == [(1, False), (2, True), (3, False)]
    assert sections[0].text == text_page and sections[2].text == "第三页：常见问题？English too."
    assert recovered(known, sections[1].text) >= 0.9 and all(w in sections[1].text for w in KEY_WORDS)
    assert warnings == []


@pytest.mark.slow
def test_scanned_pages_without_text_are_refused() -> None:
    blank = Image.new("L", (800, 600), 255)
    assert refusal("blank-scan.pdf", image_pdf([blank, blank])) == "no text found in the scanned pages (OCR)"
