"""One question and its answer on the chat page: text with linked [n], status, sources panel."""

from __future__ import annotations

from functools import partial
from pathlib import PurePath

import streamlit as st

from ingest.pipeline import original_file
from rag.config import Settings
from rag.export import Turn, answer_notices, status_line, support_line, was_stopped
from rag.llm.base import LLMHandle
from rag.markup import (
    CitationLinks,
    evidence_spans,
    link_citations,
    ordered_sources,
    question_html,
    question_terms,
    source_anchor,
    source_card_html,
    unsupported_html,
)
from rag.pdf_view import page_with_passage
from rag.types import Citation
from ui.jobs import Job

CURSOR = " ▌"
EXTRACTIVE_BANNER = (
    "**未连接语言模型：以下回答摘录自资料原文。** 设置 `KBA_CHATGLM2_PATH`（本地 ChatGLM2-6B 目录）或 "
    "`KBA_OPENAI_BASE_URL`（vLLM、FastChat、Ollama 等 OpenAI 兼容服务，如 `http://127.0.0.1:8000/v1`），"
    "或在侧栏“模型”中填写。  \n**No language model connected: answers quote the sources.** Set "
    "`KBA_CHATGLM2_PATH` or `KBA_OPENAI_BASE_URL`, or fill in the sidebar's Model panel."
)


def model_banner(llm: LLMHandle, warning: str | None) -> None:
    """Say plainly when no generative model is connected, and why a configured one is not used."""
    if warning:
        st.warning(f"模型不可用 / Model unavailable: {warning}")
    if not llm.generative:
        st.info(EXTRACTIVE_BANNER, icon=":material/info:")


def question_bubble(question: str) -> None:
    """The person's question (escaped: nothing they type becomes markup)."""
    with st.chat_message("user"):
        st.markdown(question_html(question), unsafe_allow_html=True)


def render_turn(index: int, turn: Turn) -> None:
    """A finished turn: question, answer with citation links, state, status line, sources."""
    answer = turn.answer
    question_bubble(answer.question)
    with st.chat_message("assistant"):
        links = CitationLinks(index, [c.number for c in answer.sources], answer.verdicts)
        if answer.text:
            st.markdown(link_citations(answer.text, links), unsafe_allow_html=True)
        if support_line(answer):
            st.caption(f":material/fact_check: {support_line(answer)}")
        if unsupported := unsupported_html(answer.verdicts):
            st.markdown(unsupported, unsafe_allow_html=True)
        if was_stopped(answer):
            st.caption(":material/stop_circle: 已停止：以上是停止前生成的部分 / Stopped: the answer above is partial.")
        if answer.cut_off:
            st.warning(answer.cut_off, icon=":material/content_cut:")
        if answer.error:
            st.error(answer.error)
        for notice in answer_notices(answer):
            st.caption(f":material/info: {notice}")
        st.caption(status_line(answer))
        sources_panel(index, turn)


def sources_panel(index: int, turn: Turn) -> None:
    """The sources of one answer: cited ones first as open cards, the others collapsed and grey."""
    answer = turn.answer
    if not answer.sources:
        return
    terms = question_terms(f"{answer.question} {answer.standalone_query}")
    cited = len(answer.cited)
    st.markdown(
        f"**来源 / Sources** · 引用 {cited} 条，共检索到 {len(answer.sources)} 条 "
        f"/ {cited} cited of {len(answer.sources)} retrieved · 知识库 / KB: `{turn.kb}`"
    )
    evidence = evidence_spans(answer, index)
    for citation, is_cited in ordered_sources(answer):
        anchor = source_anchor(index, citation.number)
        card = source_card_html(citation, is_cited, terms, anchor, evidence.get(citation.number, ()))
        st.markdown(card, unsafe_allow_html=True)
        if is_cited:
            _original(index, turn.kb, citation)


def _original(index: int, kb: str, citation: Citation) -> None:
    """The stored original one click away: a download, and for a PDF its page, the passage marked."""
    settings: Settings = st.session_state["settings"]
    chunk = citation.chunk
    download, page, _ = st.columns([1.3, 1.3, 5])
    download.download_button(
        "原文 / Original",
        data=partial(original_file, settings, kb, chunk.doc_name),
        file_name=PurePath(chunk.doc_name).name,
        icon=":material/download:",
        key=f"original-{index}-{citation.number}",
        on_click="ignore",
    )
    if chunk.page is not None and chunk.doc_name.lower().endswith(".pdf"):
        with page.popover(f"第 {chunk.page} 页 / Page {chunk.page}", icon=":material/picture_as_pdf:"):
            st.image(_page_picture(settings, kb, chunk.doc_name, chunk.page, chunk.text))


@st.cache_data(max_entries=32, show_spinner=False)
def _page_picture(_settings: Settings, kb: str, doc_name: str, page: int, passage: str) -> bytes:
    return page_with_passage(original_file(_settings, kb, doc_name), page, passage)


def follow_answer(question: str, job: Job) -> None:
    """Draw an answer while it streams, with a stop button, until the job finishes."""
    question_bubble(question)
    with st.chat_message("assistant"):
        slot = st.empty()
        slot.caption("正在检索资料… / Searching the sources…")
        stopping = job.cancel.is_set()
        st.button(
            "正在停止… / Stopping…" if stopping else "停止 / Stop",
            icon=":material/stop_circle:",
            key="stop_answer",
            on_click=job.cancel.set,
            disabled=stopping,
        )
        shown = ""
        while not job.wait(0.05):
            text = job.text()
            if text != shown:
                slot.markdown(link_citations(text + CURSOR), unsafe_allow_html=True)
                shown = text
