"""End to end in a real headless Chromium: upload a document, ask about it, see it cited as [1].

Starts ``streamlit run app.py`` on a free port with its own data dir and the hashing embedder,
drives /usr/bin/chromium with Playwright, and stops the server at the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.browser import CHROMIUM, CHROMIUM_ARGS, REPO, running_app

DOCUMENT = "# 蓝鲸项目发布手册\n\n## 发布窗口\n\n蓝鲸项目的发布窗口是每周四下午三点，发布前需要值班经理签字。\n"


@pytest.fixture
def server_url(tmp_path: Path) -> Iterator[str]:
    """A running app on a free port with an empty data dir; killed (with its children) afterwards."""
    with running_app(
        tmp_path / "kb",
        log=tmp_path / "streamlit.log",
        timeout_s=30,
        KBA_EMBEDDER="hashing",
        KBA_SAMPLE_DOCS_DIR=str(REPO / "tests" / "corpus"),
    ) as url:
        yield url


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
            link = page.locator('sup.kba-cite a[href^="#kba-t0-s1"]').first
            expect(link).to_have_text("[1]")
            expect(page.get_by_text("每周四下午三点").first).to_be_visible()
            target = link.get_attribute("href")
            link.click()
            expect(page.locator(target)).to_be_in_viewport()  # the supporting span of source [1]
            expect(page.locator(f"{target}.kba-evidence, .kba-evidence:has({target})").first).to_contain_text("每周四")
            expect(first).to_be_in_viewport()
            with page.expect_download() as download:
                page.get_by_role("button", name="原文 / Original").first.click()
            assert Path(download.value.path()).read_bytes() == document.read_bytes()  # the stored original
        finally:
            browser.close()


@pytest.mark.slow
def test_shared_app_asks_for_a_login_and_a_reader_cannot_delete(tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    from rag.users import UserStore

    UserStore(tmp_path / "kb").add("rita", "a long enough secret", {"*": "reader"})
    with (
        running_app(
            tmp_path / "kb",
            log=tmp_path / "streamlit.log",
            timeout_s=30,
            KBA_EMBEDDER="hashing",
            KBA_SAMPLE_DOCS_DIR=str(REPO / "tests" / "corpus"),
            KBA_SHARE="1",
        ) as url,
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(30_000)
            page.goto(f"{url}/knowledge")
            expect(page.get_by_role("heading", name="登录 / Sign in")).to_be_visible()
            expect(page.get_by_test_id("stChatInputTextArea")).to_have_count(0)
            page.get_by_label("用户名 / User name").fill("rita")
            page.get_by_label("密码 / Password").fill("wrong password")
            page.get_by_role("button", name="登录 / Sign in").click()
            expect(page.get_by_text("Wrong user name or password")).to_be_visible()
            page.get_by_label("用户名 / User name").fill("rita")
            page.get_by_label("密码 / Password").fill("a long enough secret")
            page.get_by_role("button", name="登录 / Sign in").click()
            expect(page.get_by_text("Signed in: rita")).to_be_visible()

            page.get_by_role("link", name="知识库 / Knowledge bases").click()
            expect(page.get_by_text("You may read 'default' but not change it")).to_be_visible()
            expect(page.get_by_role("combobox", name="选择文档 / Document")).to_be_visible()  # may browse
            expect(page.get_by_role("button", name="删除文档 / Delete")).to_have_count(0)
            expect(page.get_by_role("button", name="删除知识库 / Delete knowledge base")).to_have_count(0)
            expect(page.locator('[data-testid="stFileUploader"]')).to_have_count(0)
        finally:
            browser.close()
