"""The web app and the HTTP API, two processes on one data dir, upload into one knowledge base at once."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
import streamlit as st
from api_server import serving
from conftest import CORPUS, REPO
from streamlit.testing.v1 import AppTest

from ingest.pipeline import build_from_folder, open_kb
from rag.config import Settings
from ui.resources import ingest_registry

# Long enough (about a second of ingest) that the API's upload arrives while the app's still runs.
SECTIONS = 600


def _long_document() -> bytes:
    parts = [f"## 第 {i} 节\n\n项目 {i} 的负责人是第 {i % 37} 组，预算为 {i * 13} 万元。" * 3 for i in range(SECTIONS)]
    return "\n\n".join(parts).encode()


def test_app_and_api_upload_into_one_kb_at_the_same_time(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_from_folder(settings, "default", CORPUS)
    for name, value in {
        "KBA_DATA_DIR": str(settings.data_dir),
        "KBA_EMBEDDER": settings.embedder,
        "KBA_CHUNK_SIZE": str(settings.chunk_size),
        "KBA_CHUNK_OVERLAP": str(settings.chunk_overlap),
        "KBA_LOCK_TIMEOUT_S": "60",
    }.items():
        monkeypatch.setenv(name, value)
    st.cache_resource.clear()
    with serving(settings.model_copy(update={"lock_timeout_s": 60})) as url:
        at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
        at.run()
        at.switch_page("ui/knowledge.py").run()
        at.file_uploader[0].set_value([("from_app.md", _long_document(), "text/markdown")])
        at.run()
        clicked = threading.Thread(target=at.button(key="add_files").click().run)
        clicked.start()
        deadline = time.monotonic() + 60
        while ingest_registry().running(Settings(), "default") is None and clicked.is_alive():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        app_busy = ingest_registry().running(Settings(), "default") is not None
        api = httpx.post(
            f"{url}/kbs/default/documents",
            files=[("files", ("from_api.md", "# 接口\n\n接口上传的文件说明备份在周五。".encode(), "text/markdown"))],
        ).json()
        clicked.join(120)
        while api["state"] == "running":
            time.sleep(0.05)
            api = httpx.get(f"{url}/jobs/{api['id']}").json()
        assert not at.exception, at.exception
    st.cache_resource.clear()
    assert app_busy, "the API's upload did not overlap the app's"
    assert api["state"] == "succeeded" and api["result"]["added"] == ["from_api.md"], api
    assert {(r["file"], r["result"]) for _, r in at.table[0].value.iterrows()} == {("from_app.md", "已添加 / added")}
    kb = open_kb(settings, "default")
    try:
        documents = {doc.name: doc.chunks for doc in kb.documents()}
        assert {"from_app.md", "from_api.md", "product_faq.txt"} <= set(documents)
        assert documents["from_app.md"] >= SECTIONS / 2 and sum(documents.values()) == kb.chunk_count()
        assert kb.keyword_search("接口上传", 3) and kb.keyword_search("预算", 3)
    finally:
        kb.close()
