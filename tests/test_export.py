"""Markdown export, status line and history of a conversation, from real answers of a tiny knowledge base."""

from __future__ import annotations

from datetime import datetime

from ingest.types import StoredChunk
from rag.chain import EXTRACTIVE_NOTICE, STOPPED, Assistant
from rag.config import Settings
from rag.export import Turn, answer_notices, conversation_markdown, history_pairs, status_line, was_stopped
from rag.types import Answer, Citation, PackingReport, Timings


def _answer(text: str = "答案 [1]", **changes: object) -> Answer:
    sources = [
        Citation(1, StoredChunk(1, "guide.md", 0, "正文一", None, "安装"), 0.9),
        Citation(2, StoredChunk(2, "faq.txt", 0, "正文二", 3, None), 0.4),
    ]
    packing = PackingReport(window=8192, reserved_for_answer=512, source_tokens=100, total_tokens=700)
    packing.sources_used, packing.notes = 2, ["dropped 1 older turn"]
    answer = Answer("怎么安装？", text, sources, sources[:1], packing, Timings(0.01, 0.2, 1.5), "test-model")
    answer.notices = [EXTRACTIVE_NOTICE, "dropped 1 older turn", "other notice"]
    for name, value in changes.items():
        setattr(answer, name, value)
    return answer


def test_status_line_has_model_times_and_budget() -> None:
    line = status_line(_answer())
    for part in ("test-model", "检索 retrieval 0.01 s", "first token 0.20 s", "total 1.50 s", "700/8192 tokens"):
        assert part in line
    assert "sources 100 (2)" in line and "已截断 cut: dropped 1 older turn" in line


def test_status_line_without_packing_or_first_token() -> None:
    line = status_line(_answer(packing=None, timings=Timings(0.0, None, 0.1)))
    assert "first token" not in line and "context" not in line


def test_notices_shown_elsewhere_are_left_out() -> None:
    answer = _answer()
    answer.notices.append(STOPPED)
    assert answer_notices(answer) == ["other notice"]
    assert was_stopped(answer) and not was_stopped(_answer())


def test_history_skips_turns_without_text() -> None:
    turns = [Turn("kb", _answer("第一")), Turn("kb", _answer("", error="boom")), Turn("kb", _answer("第三"))]
    assert history_pairs(turns) == [("怎么安装？", "第一"), ("怎么安装？", "第三")]


def test_markdown_export_lists_answer_state_and_sources() -> None:
    stopped = _answer("部分回答")
    stopped.notices.append(STOPPED)
    failed = _answer("", error="server down")
    md = conversation_markdown(
        [Turn("docs", _answer()), Turn("docs", stopped), Turn("other", failed)], datetime(2024, 5, 1, 9, 30)
    )
    assert md.startswith("# 知识库问答记录 / Conversation\n")
    assert "2024-05-01 09:30" in md
    assert "## 1. 怎么安装？" in md and "## 3. 怎么安装？" in md
    assert "*知识库 / Knowledge base: other*" in md
    assert "- [1] guide.md, 安装 (score 0.90)" in md
    assert "- [2] faq.txt, p. 3 (score 0.40)" in md
    assert "已停止 / Stopped" in md and "> 错误 / Error: server down" in md
    assert "> other notice" in md and EXTRACTIVE_NOTICE not in md
    assert md.endswith("\n") and not md.endswith("\n\n")


def test_empty_conversation_exports() -> None:
    assert "no questions yet" in conversation_markdown([])


def test_export_of_a_real_answer(settings: Settings, built_kb: str) -> None:
    answer = Assistant(settings).ask("conda 怎么列出环境？", [], built_kb)
    md = conversation_markdown([Turn(built_kb, answer)])
    assert answer.cited and f"[{answer.cited[0].number}] {answer.cited[0].chunk.location}" in md
    assert "extractive" in md  # the status line names the backend


def test_export_keeps_formatting_but_no_markup_from_model_question_or_error() -> None:
    from markdown_it import MarkdownIt

    hostile = '见 <img src="http://127.0.0.1:9/t.png"> ![x](http://127.0.0.1:9/m.png) [点](javascript:x) **粗体** [1]'
    answer = _answer(f"{hostile}\n\n```\nif a < b: pass\n```", question="<script>x</script> 问题 ![q](http://e/q.png)")
    answer.error = "<iframe src=http://e/f></iframe>"
    md = conversation_markdown([Turn("docs", answer)])
    rendered = MarkdownIt("commonmark").enable("table").render(md)  # as a viewer would show the file
    for active in ("<img", "<script", "<iframe", "<a href", "javascript:"):
        assert active not in rendered.replace("&lt;", "").replace("[点](javascript:x)", ""), active
    assert "<strong>粗体</strong>" in rendered and "if a &lt; b: pass" in rendered  # formatting and code kept
    assert "&lt;img src=" in rendered and "![x](http://127.0.0.1:9/m.png)" in rendered  # shown as text
