"""Splitter: whole sentences, sizes, overlap, locations, speed."""

from __future__ import annotations

import itertools
import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.splitter import split_sections, split_text_spans
from ingest.types import Section

WORDS = ["知识库", "检索", "模型", "文档", "向量", "中文", "分词", "答案", "引用", "设置"]
TOKENS = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(["3.14", "v1.2.3", "42", "0.5", "BM25", "FAISS", "top_k"]),
    st.sampled_from([" ", "，", "、", ", "]),
    st.sampled_from(WORDS).map(lambda w: "\n" + w),  # a wrapped line, as PDFs give them
)
ENDS = st.sampled_from(["。", "！", "？", "；", ".", "!", "?", "。”"])


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, list[tuple[int, int]]]:
    """Prose built sentence by sentence, returned with the (start, end) of every sentence."""
    text, spans = "", []
    for p in range(draw(st.integers(1, 4))):
        if p:
            text += "\n\n"
        for s in range(draw(st.integers(1, 8))):
            if s:
                text += draw(st.sampled_from(["", " ", "\n"])) if text[-1] in "。！？；”" else " "
            body = draw(st.sampled_from(WORDS)) + "".join(draw(st.lists(TOKENS, max_size=40)))
            start = len(text)
            text += body + draw(ENDS)
            spans.append((start, len(text)))
    return text, spans


@settings(max_examples=200, deadline=None)
@given(documents(), st.integers(20, 120), st.integers(0, 40))
def test_chunks_are_whole_sentences_covering_the_text(
    doc: tuple[str, list[tuple[int, int]]], size: int, overlap: int
) -> None:
    text, sentences = doc
    overlap = min(overlap, size - 1)
    starts = {s for s, _ in sentences}
    ends = {e for _, e in sentences}
    too_long = [(s, e) for s, e in sentences if e - s > size]

    def inside_long(pos: int) -> bool:
        return any(s < pos < e for s, e in too_long)

    spans = split_text_spans(text, size, overlap)
    chunks = split_sections([Section(text)], size, overlap)
    assert [c.text for c in chunks] == [text[s:e] for s, e in spans]
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    for i, (start, end) in enumerate(spans):
        chunk = text[start:end]
        assert chunk.strip() == chunk and chunk
        assert len(chunk) <= size
        assert start in starts or inside_long(start)
        if i < len(spans) - 1:
            assert end in ends or inside_long(end)
            nxt = spans[i + 1][0]
            assert start < nxt
            assert text[end:nxt].strip() == ""  # no text is skipped
            assert end - nxt <= overlap  # a repeated part is at most `overlap` long
    # concatenating the chunks minus their overlaps gives the text back (up to whitespace)
    rebuilt, covered = "", 0
    for start, end in spans:
        rebuilt += text[max(start, covered) : end]
        covered = end
    assert rebuilt.split() == text.split() or "".join(rebuilt.split()) == "".join(text.split())


def test_overlap_repeats_whole_trailing_sentences() -> None:
    sentences = [f"第{i}句话讲的是检索。" for i in range(10)]  # 10 characters each
    chunks = split_sections([Section("".join(sentences))], 40, 20)
    assert [c.text for c in chunks[:2]] == ["".join(sentences[0:4]), "".join(sentences[2:6])]
    for a, b in itertools.pairwise(chunks):
        assert b.text.startswith(a.text[-20:])  # two whole sentences, 20 <= 20 characters
    no_overlap = split_sections([Section("".join(sentences))], 40, 0)
    assert "".join(c.text for c in no_overlap) == "".join(sentences)


def test_decimals_versions_and_list_numbers_do_not_end_sentences() -> None:
    text = "圆周率约为 3.14 而版本是 v2.0.1 之后的 e.g. 版本。下一句。"
    spans = split_text_spans(text, 40, 0)
    assert [text[s:e] for s, e in spans] == [text]
    assert [text[s:e] for s, e in split_text_spans(text, 36, 0)] == [
        "圆周率约为 3.14 而版本是 v2.0.1 之后的 e.g. 版本。",  # 35 characters
        "下一句。",
    ]
    listing = "步骤如下：\n1. 运行 ./start.sh 启动。\n2. 打开 http://localhost:8501 提问。"
    assert [c.text for c in split_sections([Section(listing)], 40, 0)] == [
        "步骤如下：\n1. 运行 ./start.sh 启动。",
        "2. 打开 http://localhost:8501 提问。",
    ]


def test_english_sentence_ends_need_following_space() -> None:
    text = "Run it. Then ask a question! Is it fast? Yes."
    assert [c.text for c in split_sections([Section(text)], 20, 0)] == [
        "Run it.",
        "Then ask a question!",
        "Is it fast? Yes.",
    ]


def test_overlong_sentence_is_cut_at_clause_marks() -> None:
    text = "开头。" + "，".join(["这是一个很长的从句"] * 20) + "。结尾。"
    chunks = [c.text for c in split_sections([Section(text)], 50, 10)]
    assert all(len(c) <= 50 for c in chunks)
    assert all(c.endswith(("，", "。")) for c in chunks)
    assert "".join(chunks) == text  # the pieces of one sentence are never repeated as overlap
    hard = split_sections([Section("字" * 120)], 50, 10)
    assert [len(c.text) for c in hard] == [50, 50, 20]
    url = "打开 http://localhost:8501/some/long/path 提问。"
    assert split_sections([Section(url)], 30, 0)[0].text == "打开"  # rather a short piece than a cut word


def test_paragraph_and_heading_boundaries_are_preferred() -> None:
    para1, para2 = "第一段的句子。" * 5, "第二段的句子。" * 5  # 35 characters each
    section = "## 小节\n" + "小节内容很多。" * 4
    chunks = [c.text for c in split_sections([Section(f"{para1}\n\n{para2}\n{section}")], 60, 0)]
    # three more sentences would fit after para1, and the heading after para2: both stay apart
    assert chunks == [para1, para2, section]


def test_code_lines_are_not_broken() -> None:
    command = "python -m ingest build --kb default --source data/sample. Then wait"
    text = "安装依赖后运行下面的命令。\n```bash\n" + f"{command}\n" * 3 + "```\n完成后即可提问。"
    chunks = [c.text for c in split_sections([Section(text)], 80, 30)]
    for chunk in chunks:
        for line in chunk.split("\n"):
            assert line in text.split("\n")  # every line of every chunk is a whole source line
    assert max(len(c) for c in chunks) <= 80


def test_sections_keep_their_page_and_heading() -> None:
    sections = [
        Section("第一页的内容。" * 3, page=1),
        Section("第二页的内容。", page=2),
        Section("安装步骤。", heading="安装"),
        Section("更多安装步骤。", heading="安装"),  # same place: may share a chunk
        Section("依赖列表。", heading="安装 > 依赖"),
        Section("   \n\n  ", heading="空"),
    ]
    chunks = split_sections(sections, 100, 20)
    assert [(c.text, c.page, c.heading) for c in chunks] == [
        ("第一页的内容。" * 3, 1, None),
        ("第二页的内容。", 2, None),
        ("安装步骤。\n\n更多安装步骤。", None, "安装"),
        ("依赖列表。", None, "安装 > 依赖"),
    ]


def test_bad_sizes_are_rejected() -> None:
    with pytest.raises(ValueError):
        split_sections([Section("文本。")], 50, 50)
    with pytest.raises(ValueError):
        split_sections([Section("文本。")], 0, 0)


def test_300_kb_of_chinese_splits_fast() -> None:
    rng = random.Random(7)
    hanzi = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
    parts = []
    while sum(map(len, parts)) < 300_000:
        parts.append("".join(rng.choices(hanzi, k=rng.randint(5, 80))) + rng.choice("。！？；，\n"))
    text = "".join(parts)
    t0 = time.perf_counter()
    chunks = split_sections([Section(text)], 500, 80)
    assert time.perf_counter() - t0 < 0.5
    assert all(len(c.text) <= 500 for c in chunks) and len(chunks) > 600


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("文档。！？；，、.!? \n\t#-*>|`$1234567890abc”")), max_size=400),
    st.integers(1, 60),
    st.integers(0, 30),
)
def test_any_text_is_covered_by_bounded_chunks(text: str, size: int, overlap: int) -> None:
    overlap = min(overlap, size - 1)
    spans = split_text_spans(text, size, overlap)
    if not text.strip():
        assert spans == []
        return
    assert text[: spans[0][0]].strip() == "" and text[spans[-1][1] :].strip() == ""
    for (start, end), (nxt, nxt_end) in itertools.pairwise(spans):
        assert start < nxt and end < nxt_end
        assert text[end:nxt].strip() == ""
        assert end - nxt <= overlap
    for start, end in spans:
        assert 0 < end - start <= size and text[start:end].strip() == text[start:end]
