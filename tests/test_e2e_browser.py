"""End to end in a real headless Chromium: upload a document, ask about it, see it cited as [1].

Starts ``streamlit run app.py`` on a free port with its own data dir and the hashing embedder,
drives /usr/bin/chromium with Playwright, and stops the server at the end.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
DOCUMENT = "# 蓝鲸项目发布手册\n\n## 发布窗口\n\n蓝鲸项目的发布窗口是每周四下午三点，发布前需要值班经理签字。\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, server: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"streamlit exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as response:
                if response.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"streamlit did not answer on {url} within {timeout_s} s")


@pytest.fixture
def server_url(tmp_path: Path) -> Iterator[str]:
    """A running app on a free port with an empty data dir; killed (with its children) afterwards."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KBA_")}
    env.update(
        KBA_DATA_DIR=str(tmp_path / "kb"),
        KBA_EMBEDDER="hashing",
        KBA_SAMPLE_DOCS_DIR=str(REPO / "tests" / "corpus"),
        KBA_CONFIG=str(tmp_path / "none.toml"),
    )
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true"]
    command += ["--server.port", str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none"]
    log = (tmp_path / "streamlit.log").open("wb")
    server = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, server)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


@pytest.mark.slow
def test_upload_then_ask_cites_the_document(server_url: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    document = tmp_path / "蓝鲸发布手册.md"
    document.write_text(DOCUMENT, encoding="utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(30_000)
            page.goto(f"{server_url}/knowledge")
            uploader = page.locator('[data-testid="stFileUploader"] input[type="file"]')
            uploader.set_input_files(str(document))
            page.get_by_role("button", name="添加到知识库 / Add to knowledge base").click()
            expect(page.get_by_text("已添加 / added")).to_be_visible()

            page.get_by_role("link", name="问答 / Ask").click()
            question = page.get_by_test_id("stChatInputTextArea")
            question.fill("蓝鲸项目的发布窗口是什么时候？")
            question.press("Enter")

            first = page.locator("#kba-t0-s1")
            expect(first).to_contain_text("蓝鲸发布手册.md")
            link = page.locator('sup.kba-cite a[href="#kba-t0-s1"]').first
            expect(link).to_have_text("[1]")
            expect(page.get_by_text("每周四下午三点").first).to_be_visible()
            link.click()
            expect(first).to_be_in_viewport()
        finally:
            browser.close()
