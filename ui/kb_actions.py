"""Button callbacks of the knowledge-base page: they run before the page is drawn.

Uploads and rebuilds go to a background job (ui.jobs), so a click elsewhere never cuts an ingest
short; the quick changes (create, delete) run here and leave a message for the page. Each
callback checks the session's permission itself (ui.auth.permitted): hidden buttons are not a check.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable

import streamlit as st

from ingest.errors import KnowledgeBaseError
from ingest.pipeline import IngestReport, add_files, create_kb, delete_kb, rebuild, remove_documents
from ingest.uploads import new_staging_folder, stage_uploads
from rag.config import Settings
from ui.auth import permitted
from ui.jobs import Job
from ui.resources import assistant_pool, ingest_registry
from ui.widgets import flash

INGEST, CONFIRM, ROUND = "ingest", "confirm_delete", "uploader_round"
BUSY = "知识库 {kb} 正在更新，请稍后再试。/ Knowledge base '{kb}' is being updated; try again when it has finished."


def _start(settings: Settings, kb: str, kind: str, work: Callable[[Job], IngestReport], rejected: list) -> bool:
    job = ingest_registry().start(settings, kb, kind, work)
    if job is None:
        flash("warning", BUSY.format(kb=kb))
        return False
    st.session_state[INGEST] = {"kb": kb, "kind": kind, "job": job, "rejected": rejected}
    return True


def start_upload(settings: Settings, kb: str, uploader_key: str) -> None:
    """Add button callback: stage the uploaded files and ingest them in the background."""
    if not permitted(settings, "write", kb, f"upload to {kb}"):
        return
    files = st.session_state.get(uploader_key) or []
    folder = new_staging_folder(settings.data_dir)
    max_bytes = int(settings.max_file_mb * 2**20)
    staged, rejected = stage_uploads(((f.name, f.size, f) for f in files), folder, max_bytes)

    def work(job: Job) -> IngestReport:
        try:
            return add_files(settings, kb, staged, job.progress) if staged else IngestReport()
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    if not _start(settings, kb, "upload", work, rejected):
        shutil.rmtree(folder, ignore_errors=True)
    st.session_state[ROUND] = st.session_state.get(ROUND, 0) + 1  # a fresh, empty uploader


def start_rebuild(settings: Settings, kb: str) -> None:
    """Rebuild button callback: re-parse and re-embed every document in the background."""
    if not permitted(settings, "write", kb, f"rebuild {kb}"):
        return
    pool = assistant_pool()

    def work(job: Job) -> IngestReport:
        pool.forget(kb)  # release the old files before they are swapped
        try:
            return rebuild(settings, kb, job.progress)
        finally:
            pool.forget(kb)

    _start(settings, kb, "rebuild", work, [])


def create(settings: Settings) -> None:
    """Create button callback: a new, empty knowledge base, selected at once."""
    name = st.session_state.get("new_kb_name", "").strip()
    if not permitted(settings, "manage", name, f"create {name}"):
        return
    try:
        create_kb(settings, name).close()
    except KnowledgeBaseError as error:
        flash("error", f"无法创建 / Cannot create: {error}")
        return
    flash("success", f"已创建知识库 {name} / Created knowledge base '{name}'.")
    st.session_state["kb"] = name
    st.session_state["new_kb_name"] = ""


def confirmed_delete(settings: Settings) -> None:
    """Confirm button callback: delete the document or knowledge base the person confirmed."""
    kind, kb, name = st.session_state.pop(CONFIRM)
    if not permitted(settings, "write" if kind == "doc" else "manage", kb, f"delete {name}"):
        return
    if ingest_registry().running(settings, kb) is not None:
        flash("warning", BUSY.format(kb=kb))
        return
    try:
        if kind == "doc":
            report = remove_documents(settings, kb, [name])
            for file, reason in report.failed:
                flash("error", f"{file}: {reason}")
            if report.removed:
                flash("success", f"已删除文档 / Deleted document: {name}")
        else:
            assistant_pool().forget(kb)
            delete_kb(settings, kb)
            assistant_pool().forget(kb)
            st.session_state.pop("kb", None)
            flash("success", f"已删除知识库 / Deleted knowledge base: {kb}")
    except KnowledgeBaseError as error:
        flash("error", str(error))
