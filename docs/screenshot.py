"""Take docs/screenshot.png: the chat page answering a Chinese question about the default knowledge base.

    python docs/screenshot.py                       # default embedder, data/sample, a fresh tmp data dir
    python docs/screenshot.py --embedder hashing    # faster, for a quick look
    python docs/screenshot.py --question "知识库助手支持哪些文件格式？" --out /tmp/shot.png
    python docs/screenshot.py --source ../shared/projects/jieba --question "del_word 删除一个词时是怎么实现的？" \
        --out docs/screenshot-code.png --scroll 400   # a code source: file, lines, symbol, syntax colours
    python docs/screenshot.py --answer "…[1]。…[2]。" --out docs/screenshot-verdicts.png
                                                    # a model's answer (the tests' fake OpenAI-compatible
                                                    # server streams it) and the citation check's verdicts

Starts ``streamlit run app.py`` on a free port with a temporary data dir (your data/kb is not
touched), lets the app build the default knowledge base on first run, asks the question in
headless Chromium (/usr/bin/chromium, via Playwright) and saves the page once the answer and its
sources are shown. The server is stopped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a script: make scripts.browser importable

sys.path.insert(0, str(REPO / "tests"))  # the tests' fake OpenAI-compatible server, for --answer
from scripts.browser import CHROMIUM, CHROMIUM_ARGS, running_app  # noqa: E402


@contextlib.contextmanager
def _model_serving(answer: str | None) -> Iterator[dict[str, str]]:
    """Settings pointing the app at a fake model server that streams ``answer`` (none: extractive)."""
    if answer is None:
        yield {}
        return
    from fake_openai_server import FakeOpenAIServer

    pieces = [answer[i : i + 4] for i in range(0, len(answer), 4)]
    with FakeOpenAIServer(pieces=pieces) as server:
        yield {"KBA_OPENAI_BASE_URL": server.base_url, "KBA_OPENAI_MODEL": server.model}


def take(
    question: str,
    out: Path,
    embedder: str | None,
    timeout_s: float,
    source: Path | None = None,
    scroll: int = 0,
    answer: str | None = None,
) -> None:
    """Run the app, ask ``question``, save a screenshot of the answer to ``out`` (the default
    knowledge base built from ``source`` when given; ``scroll`` pixels down to the sources; a
    model streaming ``answer`` when given, else the extractive backend)."""
    from playwright.sync_api import sync_playwright

    settings = {"KBA_EMBEDDER": embedder} if embedder else {}
    if source is not None:
        settings["KBA_SAMPLE_DOCS_DIR"] = str(source.resolve())
    with (
        tempfile.TemporaryDirectory() as tmp,
        _model_serving(answer) as model,
        running_app(Path(tmp) / "kb", **settings, **model) as url,
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1000}, device_scale_factor=1)
        page.set_default_timeout(timeout_s * 1000)
        page.goto(f"{url}/")
        box = page.get_by_test_id("stChatInputTextArea")
        box.fill(question)
        box.press("Enter")
        page.locator("#kba-t0-s1").wait_for()
        page.evaluate("document.activeElement && document.activeElement.blur()")  # no focus ring
        page.wait_for_timeout(800)  # let the last layout settle
        page.get_by_test_id("stChatMessage").first.scroll_into_view_if_needed()
        if scroll:
            page.mouse.move(720, 500)
            page.mouse.wheel(0, scroll)
            page.wait_for_timeout(500)
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out))
        browser.close()
    print(f"saved {out}")


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--question", default="本地运行 ChatGLM2-6B 需要多少显存？")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshot.png")
    parser.add_argument("--embedder", default=None, help="KBA_EMBEDDER for the run (default: the app's default)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for the first-run build + answer")
    parser.add_argument("--source", type=Path, default=None, help="build the default knowledge base from this folder")
    parser.add_argument("--scroll", type=int, default=0, help="pixels to scroll down before the shot")
    parser.add_argument("--answer", default=None, help="a model's answer, streamed by a fake OpenAI-compatible server")
    args = parser.parse_args()
    take(args.question, args.out, args.embedder, args.timeout, args.source, args.scroll, args.answer)


if __name__ == "__main__":
    main()
