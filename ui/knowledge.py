"""Knowledge-base page: create and delete knowledge bases, upload, list, preview, delete, rebuild.

Run by st.navigation from app.py (as ``__main__``); importable for its functions. The changes
themselves happen in the button callbacks of ui.kb_actions (which check permissions again); here
a reader sees no upload, delete or rebuild controls (rag.access).
"""

from __future__ import annotations

from datetime import datetime

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from ingest.errors import KnowledgeBaseError
from ingest.loaders import SUPPORTED_SUMMARY
from ingest.pipeline import IngestReport, open_kb
from ingest.uploads import report_summary, upload_results
from rag.access import Principal, allowed
from rag.config import Settings
from ui.jobs import Job
from ui.kb_actions import CONFIRM, INGEST, ROUND, confirmed_delete, create, start_rebuild, start_upload
from ui.resources import ingest_registry
from ui.widgets import follow_progress, show_flashes


def _human_size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 1024:.1f} KB"


def _delete_button(
    settings: Settings, where: DeltaGenerator, label: str, icon: str, pending: tuple[str, str, str]
) -> None:
    """A delete button in ``where`` that asks first (the question shows in the current container):
    ``pending`` is (kind "doc" or "kb", knowledge base, name)."""
    kind = pending[0]
    where.button(label, icon=icon, key=f"delete_{kind}", on_click=st.session_state.__setitem__, args=(CONFIRM, pending))
    _confirm_box(settings, kind)


def _confirm_box(settings: Settings, kind: str) -> None:
    pending = st.session_state.get(CONFIRM)
    if pending is None or pending[0] != kind:
        return
    _, kb, name = pending
    if kind == "doc":
        st.warning(f"确定从 {kb} 删除文档 {name}？/ Delete document '{name}' from '{kb}'?")
    else:
        st.warning(f"确定删除知识库 {kb} 及其全部文件？无法撤销。/ Delete knowledge base '{kb}' and all its files?")
    yes, no, _ = st.columns([1, 1, 3])
    yes.button("确认删除 / Delete", type="primary", key=f"yes_{kind}", on_click=confirmed_delete, args=(settings,))
    no.button("取消 / Cancel", key=f"no_{kind}", on_click=st.session_state.pop, args=(CONFIRM, None))


def _ingest_status(settings: Settings, kb: str) -> None:
    mine = st.session_state.get(INGEST)
    other = ingest_registry().running(settings, kb)
    if other is not None and (mine is None or mine["job"] is not other):
        follow_progress(other, f"另一个窗口正在更新 {kb} / Another window is updating '{kb}'")
    if mine is None or mine["kb"] != kb:
        return
    job: Job = mine["job"]
    title = "上传 / Upload" if mine["kind"] == "upload" else "重建索引 / Rebuild"
    if not job.done:
        follow_progress(job, f"{title}: {kb}")
    if job.error is not None:
        st.error(f"{title} 失败 / failed: {job.error}")
    report: IngestReport | None = job.result
    if report is not None:
        st.success(f"{title} 完成 / done: {report_summary(report, len(mine['rejected']))}")
    rows = upload_results(mine["rejected"], report if mine["kind"] == "upload" else None)
    if mine["kind"] == "rebuild" and report is not None:
        rows = upload_results(report.failed, None)
    if rows:
        st.table(rows, hide_index=True, border="horizontal")


def _upload(settings: Settings, kb: str, principal: Principal) -> None:
    st.subheader("上传文件 / Upload files")
    if not allowed(principal, "write", kb):
        st.info(f"你可以查看 {kb}，但不能修改。/ You may read '{kb}' but not change it.")
        return
    key = f"uploader_{st.session_state.get(ROUND, 0)}"
    files = st.file_uploader(
        f"支持 / Supported: {SUPPORTED_SUMMARY} · 单个文件最大 / max {settings.max_file_mb:g} MB",
        type=None,  # Dockerfile, Makefile and scripts have no extension: each file is judged when staged
        accept_multiple_files=True,
        key=key,
    )
    st.button(
        "添加到知识库 / Add to knowledge base",
        key="add_files",
        type="primary",
        disabled=not files,
        on_click=start_upload,
        args=(settings, kb, key),
    )
    _ingest_status(settings, kb)


def _documents(settings: Settings, kb: str, principal: Principal) -> None:
    st.subheader("文档 / Documents")
    writer = allowed(principal, "write", kb)
    try:
        handle = open_kb(settings, kb)
    except KnowledgeBaseError as error:
        st.error(str(error))
        if writer:
            st.button("重建索引 / Rebuild index", key="rebuild_broken", on_click=start_rebuild, args=(settings, kb))
        return
    try:
        docs, stats = handle.documents(), handle.stats()
        a, b, c = st.columns(3)
        a.metric("文档 / Documents", stats["documents"])
        b.metric("分块 / Chunks", stats["chunks"])
        c.metric("磁盘 / On disk", _human_size(int(stats["disk_bytes"])))
        st.caption(f"向量模型 / Embedder: `{stats['embedder']}` · 索引版本 / generation {stats['generation']}")
        if not docs:
            st.info("这个知识库还没有文档。/ No documents yet: upload some above.")
            return
        rows = [
            {
                "文件 / name": doc.name,
                "类型 / type": doc.kind,
                "大小 / size": _human_size(doc.size_bytes),
                "分块 / chunks": doc.chunks,
                "添加时间 / added at": datetime.fromisoformat(doc.added_at).astimezone().strftime("%Y-%m-%d %H:%M"),
            }
            for doc in docs
        ]
        st.dataframe(rows, hide_index=True, width="stretch")
        name = st.selectbox("选择文档 / Document", [doc.name for doc in docs], key="doc_pick")
        preview, delete, _ = st.columns([1.9, 1.5, 2.6])
        show = preview.toggle("预览分块 / Preview chunks", key="doc_preview")
        if writer:
            _delete_button(settings, delete, "删除文档 / Delete", ":material/delete:", ("doc", kb, name))
        if show:
            for chunk in handle.chunks_of(name)[:100]:
                with st.container(border=True):
                    st.caption(f"#{chunk.ordinal + 1} · {chunk.location} · {len(chunk.text)} 字 / chars")
                    st.text(chunk.text)
    finally:
        handle.close()


def _manage(settings: Settings, kb: str | None, principal: Principal) -> None:
    creator = "admin" in principal.roles.values()  # may create the knowledge bases they are admin of
    if not creator and (kb is None or not allowed(principal, "write", kb)):
        return
    st.subheader("管理 / Manage")
    if kb is not None and allowed(principal, "write", kb):
        st.button(
            "重建索引 / Rebuild index",
            icon=":material/refresh:",
            key="rebuild",
            on_click=start_rebuild,
            args=(settings, kb),
            help="用当前设置重新解析并向量化全部文档 / Re-parse and re-embed every document with the current settings",
        )
    new, delete = st.columns(2)
    if creator:
        with new:
            st.text_input("新知识库名称 / New knowledge base name", key="new_kb_name", placeholder="project_docs")
            st.button("创建 / Create", icon=":material/add:", key="create_kb", on_click=create, args=(settings,))
    if kb is not None and allowed(principal, "manage", kb):
        with delete:
            st.caption(f"删除当前知识库 / Delete the current knowledge base: **{kb}**")
            _delete_button(
                settings, delete, "删除知识库 / Delete knowledge base", ":material/delete_forever:", ("kb", kb, kb)
            )


def render() -> None:
    """The whole page."""
    settings: Settings = st.session_state["settings"]
    kb: str | None = st.session_state.get("current_kb")
    principal: Principal = st.session_state["principal"]
    st.title("知识库管理 / Knowledge bases")
    show_flashes()
    if kb is None:
        st.info("还没有知识库：在下面创建一个。/ No knowledge base yet: create one below.")
    else:
        st.caption(f"当前知识库 / Current knowledge base: **{kb}** (在侧栏切换 / switch in the sidebar)")
        _upload(settings, kb, principal)
        _documents(settings, kb, principal)
    _manage(settings, kb, principal)


if __name__ == "__main__":
    render()
