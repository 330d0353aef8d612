"""The Streamlit pages under AppTest: each test has its own data dir, hashing embedder and tiny corpus."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from fake_openai_server import FakeOpenAIServer
from streamlit.testing.v1 import AppTest

from ingest.pipeline import IngestReport, create_kb
from ingest.stores import knowledge_bases
from ingest.stores.embedded import list_knowledge_bases
from rag.chain import EMPTY_QUESTION, STOPPED, Assistant
from rag.config import Settings
from ui.chat import PENDING
from ui.jobs import Job, answer_job
from ui.resources import ingest_registry

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "corpus"
QUESTION = "conda 怎么列出环境？"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Environment for the app, set before its settings are built; caches cleared around each test."""
    monkeypatch.setenv("KBA_DATA_DIR", str(tmp_path / "kb"))
    monkeypatch.setenv("KBA_EMBEDDER", "hashing")
    monkeypatch.setenv("KBA_SAMPLE_DOCS_DIR", str(CORPUS))
    st.cache_resource.clear()
    yield tmp_path / "kb"
    st.cache_resource.clear()


def _app() -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def _ask(at: AppTest, question: str) -> AppTest:
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception
    return at


def _markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def _texts(elements: object) -> str:
    return "\n".join(str(e.value) for e in elements)  # type: ignore[attr-defined]


def _knowledge_page(at: AppTest) -> AppTest:
    at.switch_page("ui/knowledge.py").run()
    assert not at.exception, at.exception
    return at


def test_first_run_builds_the_default_kb_and_says_it_answers_extractively(data_dir: Path) -> None:
    at = _app()
    assert list_knowledge_bases(data_dir) == ["default"]
    assert at.selectbox(key="kb").value == "default"
    assert "KBA_CHATGLM2_PATH" in _markdown(at) + _texts(at.info)


def test_ask_renders_answer_with_linked_citation_and_sources(data_dir: Path) -> None:
    at = _ask(_app(), QUESTION)
    html = _markdown(at)
    assert 'href="#kba-t0-s1-e0"' in html and 'id="kba-t0-s1-e0"' in html  # [1] opens on its evidence span
    assert 'id="kba-t0-s1"' in html and "setup_notes.md" in html
    assert "句有出处支持 / sentences supported" in _texts(at.caption)
    originals = [b for b in at.download_button if b.key and b.key.startswith("original-0-")]
    assert originals and all("原文 / Original" in b.label for b in originals)  # the stored file, one click away
    assert "<mark>conda</mark>" in html
    assert "模型 model: extractive" in _texts(at.caption)


def test_follow_up_and_clear(data_dir: Path) -> None:
    at = _ask(_ask(_app(), QUESTION), "显存不够怎么办？")
    assert 'id="kba-t1-s1"' in _markdown(at)
    at.button(key="clear_chat").click().run()
    assert not at.exception
    assert "kba-t0-s1" not in _markdown(at)


def test_empty_question_gets_a_message(data_dir: Path) -> None:
    at = _ask(_app(), "   ")
    assert EMPTY_QUESTION in _texts(at.warning)
    assert not at.session_state["turns"]


def test_sidebar_settings_make_a_new_assistant(data_dir: Path) -> None:
    at = _app()
    at.slider(key="cfg_top_k").set_value(1).run()
    at = _ask(at, QUESTION)
    assert "kba-t0-s1" in _markdown(at) and "kba-t0-s2" not in _markdown(at)
    at.selectbox(key="cfg_backend").set_value("openai").run()
    assert "KBA_OPENAI_BASE_URL" in _texts(at.warning)  # configured but unusable: said so, still answers


def test_generative_backend_streams_a_cited_answer(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeOpenAIServer() as server:
        monkeypatch.setenv("KBA_OPENAI_BASE_URL", server.base_url)
        at = _ask(_app(), QUESTION)
    assert "答案是 42。" in _markdown(at) and 'href="#kba-t0-s1"' in _markdown(at)
    assert "KBA_CHATGLM2_PATH" not in _texts(at.info)


def test_llm_failing_mid_stream_keeps_partial_answer_and_sources(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeOpenAIServer(mode="broken_sse") as server:
        monkeypatch.setenv("KBA_OPENAI_BASE_URL", server.base_url)
        at = _ask(_app(), QUESTION)
    assert at.error, "the failure is shown"
    assert "根据" in _markdown(at)  # the piece written before the failure
    assert 'id="kba-t0-s1"' in _markdown(at)


def test_stopped_answer_is_kept_and_marked(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _app()
    with FakeOpenAIServer(mode="stall", delay_s=0.5) as server:
        settings = Settings(openai_base_url=server.base_url)
        job = answer_job(Assistant(settings), QUESTION, [], "default")
        while not job.pieces and not job.done:
            job.wait(0.02)
        job.cancel.set()  # what the stop button does
        at.session_state[PENDING] = (QUESTION, "default", job)
        at.run()
    assert not at.exception
    answer = at.session_state["turns"][0].answer
    assert STOPPED in answer.notices and answer.text == "根据" and answer.sources
    assert "已停止" in _texts(at.caption)
    assert 'id="kba-t0-s1"' in _markdown(at)


def test_question_while_an_ingest_runs_is_answered_from_the_previous_index(data_dir: Path) -> None:
    at = _app()
    release = threading.Event()

    def slow_ingest(job: Job) -> IngestReport:
        release.wait(10)
        return IngestReport()

    assert ingest_registry().start(Settings(), "default", "test", slow_ingest) is not None
    try:
        at = _ask(at, QUESTION)
        assert "正在更新" in _texts(at.info)
        assert 'id="kba-t0-s1"' in _markdown(at)
    finally:
        release.set()


def test_upload_shows_per_file_results_and_the_document(data_dir: Path) -> None:
    at = _knowledge_page(_app())
    text = "# 蓝鲸手册\n\n蓝鲸项目的发布窗口是每周四下午三点。".encode()
    at.file_uploader[0].set_value(
        [("蓝鲸.md", text, "text/markdown"), ("scan.pdf", b"%PDF-1.4 not really", "application/pdf")]
    )
    at.run()
    at.button(key="add_files").click().run()
    assert not at.exception, at.exception
    results = at.table[0].value
    assert {(r["file"], r["result"]) for _, r in results.iterrows()} == {
        ("蓝鲸.md", "已添加 / added"),
        ("scan.pdf", "失败 / failed"),
    }
    assert "蓝鲸.md" in list(at.dataframe[0].value["文件 / name"])
    assert not (data_dir / ".uploads").exists() or not any((data_dir / ".uploads").iterdir())
    at.switch_page("ui/chat.py").run()
    at = _ask(at, "蓝鲸项目什么时候发布？")
    assert "蓝鲸.md" in _markdown(at)


def test_delete_a_document_after_confirming(data_dir: Path) -> None:
    at = _knowledge_page(_app())
    at.selectbox(key="doc_pick").set_value("product_faq.txt").run()
    at.button(key="delete_doc").click().run()
    assert "product_faq.txt" in list(at.dataframe[0].value["文件 / name"])  # not before confirming
    at.button(key="yes_doc").click().run()
    assert not at.exception
    assert "product_faq.txt" not in list(at.dataframe[0].value["文件 / name"])
    assert "Deleted document" in _texts(at.success)


def test_rebuild_with_progress_then_answers(data_dir: Path) -> None:
    at = _knowledge_page(_ask(_app(), QUESTION))
    at.button(key="rebuild").click().run()
    assert not at.exception, at.exception
    assert "新增 4 added" in _texts(at.success)
    at.switch_page("ui/chat.py").run()
    assert 'id="kba-t1-s1"' in _markdown(_ask(at, QUESTION))


def test_create_and_delete_knowledge_bases(data_dir: Path) -> None:
    at = _knowledge_page(_app())
    at.text_input(key="new_kb_name").set_value("../etc").run()
    at.button(key="create_kb").click().run()
    assert "invalid knowledge base name" in _texts(at.error)
    at.text_input(key="new_kb_name").set_value("项目_a").run()
    at.button(key="create_kb").click().run()
    assert at.selectbox(key="kb").value == "项目_a"
    assert "No documents yet" in _texts(at.info)
    at.button(key="delete_kb").click().run()
    at.button(key="yes_kb").click().run()
    assert not at.exception
    assert list_knowledge_bases(data_dir) == ["default"]
    assert at.selectbox(key="kb").value == "default"


def test_empty_or_missing_knowledge_base_is_an_error_not_a_crash(data_dir: Path) -> None:
    at = _app()
    create_kb(Settings(), "empty").close()
    at.run()
    at.selectbox(key="kb").set_value("empty").run()
    assert "is empty" in _texts(_ask(at, QUESTION).error)
    shutil.rmtree(data_dir / "empty")
    shutil.rmtree(data_dir / "default")
    at = _ask(at, QUESTION)
    assert "No knowledge base yet" in _texts(at.error)
    assert "No knowledge base yet" in _texts(_knowledge_page(at).info)


def test_the_app_works_unchanged_on_a_milvus_knowledge_base(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KBA_STORE", "milvus")
    monkeypatch.setenv("KBA_MILVUS_URI", str(data_dir.parent / "milvus.db"))
    at = _ask(_app(), QUESTION)
    assert knowledge_bases(Settings()) == ["default"] and list_knowledge_bases(data_dir) == []  # in Milvus
    assert 'id="kba-t0-s1"' in _markdown(at) and "setup_notes.md" in _markdown(at)
    at = _knowledge_page(at)
    at.file_uploader[0].set_value([("蓝鲸.md", "# 蓝鲸\n\n蓝鲸项目每周四发布。".encode(), "text/markdown")])
    at.run()
    at.button(key="add_files").click().run()
    at.selectbox(key="doc_pick").set_value("product_faq.txt").run()
    at.button(key="delete_doc").click().run()
    at.button(key="yes_doc").click().run()
    assert not at.exception, at.exception
    names = list(at.dataframe[0].value["文件 / name"])
    assert "蓝鲸.md" in names and "product_faq.txt" not in names
    at.button(key="rebuild").click().run()
    assert not at.exception, at.exception
    at.switch_page("ui/chat.py").run()
    assert "蓝鲸.md" in _markdown(_ask(at, "蓝鲸项目什么时候发布？"))
