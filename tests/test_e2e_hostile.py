"""Hostile documents, questions and model answers in a real headless Chromium: nothing becomes markup.

A knowledge base whose document carries every kind of markup a reader's browser could act on
(a page-blanking <style>, images that call home, svg/onload, an iframe, javascript: links,
Markdown images and links, HTML entities), asked about once with the extractive backend (the
document's sentences are quoted into the answer) and once with a model that writes the same
markup itself. The page must stay visible, run no script, fetch nothing but the app's own files,
and show the markup as text.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.browser import CHROMIUM, CHROMIUM_ARGS, running_app
from tests.fake_openai_server import FakeOpenAIServer

TRACKER = "http://127.0.0.1:9"
PAYLOAD = (
    "`<style>body{display:none}</style>` "
    f'`<img src="{TRACKER}/code-span.png">` '
    f'<img src="{TRACKER}/raw.png" onerror="window.kbaPwned=1"> '
    '<svg onload="window.kbaPwned=2"></svg> '
    f'<iframe src="{TRACKER}/frame"></iframe> '
    '<a href="javascript:window.kbaPwned=3">点我</a> '
    "[链接](javascript:window.kbaPwned=4) "
    f"![图]({TRACKER}/markdown.png) "
    "<style>.stApp{visibility:hidden}</style> "
    f'\\`<img src="{TRACKER}/escaped-tick.png" onerror="window.kbaPwned=5">` '
    "&lt;b&gt;实体&lt;/b&gt; $5 和 $6"
)
DOCUMENT = f"# 蓝鲸发布手册\n\n蓝鲸项目的发布窗口是每周四下午三点 {PAYLOAD} 以上是发布窗口说明。\n"
QUESTION = f'蓝鲸项目的发布窗口是什么时候？<img src="{TRACKER}/question.png"> ![q]({TRACKER}/q.png)'


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["extractive", "model"])
def test_hostile_markup_is_shown_as_text(backend: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "蓝鲸发布手册.md").write_text(DOCUMENT, encoding="utf-8")
    env = {"KBA_EMBEDDER": "hashing", "KBA_SAMPLE_DOCS_DIR": str(docs)}
    with FakeOpenAIServer(pieces=["蓝鲸项目的发布窗口是每周四下午三点 ", PAYLOAD, "。[1]"]) as llm:
        if backend == "model":
            env |= {"KBA_LLM_BACKEND": "openai", "KBA_OPENAI_BASE_URL": llm.base_url}
        with running_app(tmp_path / "kb", log=tmp_path / "streamlit.log", timeout_s=30, **env) as url:
            requests: list[str] = []
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    page = browser.new_page(viewport={"width": 1280, "height": 900})
                    page.set_default_timeout(30_000)
                    page.on("request", lambda request: requests.append(request.url))
                    page.goto(url)
                    question = page.get_by_test_id("stChatInputTextArea")
                    question.fill(QUESTION)
                    question.press("Enter")
                    card = page.locator("#kba-t0-s1")
                    expect(card).to_contain_text("蓝鲸发布手册.md")
                    answer = page.get_by_test_id("stChatMessage").nth(1)
                    expect(answer).to_contain_text("每周四下午三点")
                    page.wait_for_timeout(1000)  # let any injected image, frame or handler fire

                    for shown in (answer, card):
                        expect(shown).to_contain_text("<style>body{display:none}</style>")
                        expect(shown).to_contain_text('<img src="http://127.0.0.1:9/raw.png"')
                        expect(shown).to_contain_text("<svg onload=")
                        expect(shown).to_contain_text("[链接](javascript:")
                        expect(shown).to_contain_text("![图](http://127.0.0.1:9/markdown.png)")
                        expect(shown).to_contain_text("&lt;b&gt;实体&lt;/b&gt; $5 和 $6")
                        expect(shown).to_contain_text("escaped-tick.png")
                    bubble = page.get_by_test_id("stChatMessage").first
                    expect(bubble).to_contain_text('<img src="http://127.0.0.1:9/question.png">')

                    assert page.evaluate("window.kbaPwned") is None
                    assert page.evaluate("getComputedStyle(document.body).display") != "none"
                    assert page.evaluate("getComputedStyle(document.querySelector('.stApp')).visibility") == "visible"
                    main = page.get_by_test_id("stMain")
                    for selector in ("img[src*='127.0.0.1:9']", "iframe", "svg[onload]", "a[href^='javascript']"):
                        assert main.locator(selector).count() == 0, selector
                    styles = page.evaluate("[...document.querySelectorAll('style')].map(s => s.textContent).join()")
                    assert "display:none}" not in styles and ".stApp{visibility" not in styles
                finally:
                    browser.close()
    foreign = [r for r in requests if not r.startswith(url) and not r.startswith("data:")]
    assert foreign == []
    if backend == "model":
        assert llm.chat_requests, "the model was asked"
