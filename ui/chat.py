"""Chat page: ask the chosen knowledge base; answers stream in with linked, highlighted sources.

Run by st.navigation from app.py (as ``__main__``); importable for its functions.
"""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from rag.access import allowed
from rag.chain import EMPTY_QUESTION
from rag.config import Settings
from rag.export import Turn, conversation_markdown, history_pairs
from ui.answer_view import follow_answer, model_banner, render_turn
from ui.jobs import Job, answer_job
from ui.resources import get_assistant, ingest_registry

TURNS, PENDING = "turns", "pending_answer"
NO_KB = (
    "还没有知识库，请先在“知识库”页面创建并上传文件。/ No knowledge base yet: create one on the Knowledge bases page."
)


def turns() -> list[Turn]:
    """This session's finished turns."""
    return st.session_state.setdefault(TURNS, [])


def clear_chat() -> None:
    """Clear button callback: stop any running answer and forget the conversation."""
    pending = st.session_state.get(PENDING)
    if pending is not None:
        pending[2].cancel.set()
    st.session_state[TURNS] = []
    st.session_state.pop(PENDING, None)


def ask(settings: Settings, kb: str, question: str) -> None:
    """Start answering ``question`` in the background; the page follows it."""
    job = answer_job(get_assistant(settings), question, history_pairs(turns()), kb)
    st.session_state[PENDING] = (question, kb, job)


def _toolbar() -> None:
    left, middle, right = st.columns([4, 1.2, 1.6], vertical_alignment="bottom")
    left.title("知识库问答 / Ask")
    middle.button(
        "清空 / Clear",
        icon=":material/delete_sweep:",
        on_click=clear_chat,
        key="clear_chat",
        width="stretch",
        disabled=not turns(),
    )
    right.download_button(
        "导出 / Export .md",
        conversation_markdown(turns()),
        icon=":material/download:",
        file_name=f"conversation-{datetime.now():%Y%m%d-%H%M}.md",
        mime="text/markdown",
        on_click="ignore",
        width="stretch",
        disabled=not turns(),
    )


def _finish(job: Job, kb: str) -> None:
    st.session_state.pop(PENDING, None)
    if job.result is None:  # the thread died of something worse than an Exception
        st.error(f"回答失败 / The answer failed: {job.error!r}")
        return
    turns().append(Turn(kb, job.result))
    st.rerun()


def render() -> None:
    """The whole page."""
    settings: Settings = st.session_state["settings"]
    kb: str | None = st.session_state.get("current_kb")
    _toolbar()
    assistant = get_assistant(settings)
    model_banner(assistant.llm, assistant.llm_warning)
    if kb is not None and ingest_registry().running(settings, kb) is not None:
        st.info(
            f"知识库 {kb} 正在更新，回答暂时基于更新前的内容。/ Knowledge base '{kb}' is being updated; "
            "answers use its previous contents until the update finishes."
        )
    for index, turn in enumerate(turns()):
        render_turn(index, turn)
    pending: tuple[str, str, Job] | None = st.session_state.get(PENDING)
    question = st.chat_input("提问 / Ask a question about your documents", disabled=pending is not None)
    if pending is None and question is not None:
        if not question.strip():
            st.warning(EMPTY_QUESTION)
        elif kb is None:
            st.error(NO_KB)
        elif not allowed(st.session_state["principal"], "read", kb):
            st.error(f"你不能读取知识库 {kb}。/ You may not read knowledge base '{kb}'.")
        else:
            ask(settings, kb, question)
            pending = st.session_state[PENDING]
    if pending is not None:
        question, pending_kb, job = pending
        follow_answer(question, job)
        _finish(job, pending_kb)
    elif not turns():
        st.caption("在下方输入问题，回答会引用资料原文 [1]、[2]。/ Type a question below; answers cite the sources.")


if __name__ == "__main__":
    render()
