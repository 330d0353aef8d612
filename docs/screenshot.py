"""Take docs/screenshot.png: the chat page answering a Chinese question about the default knowledge base.

    python docs/screenshot.py                       # default embedder, data/sample, a fresh tmp data dir
    python docs/screenshot.py --embedder hashing    # faster, for a quick look
    python docs/screenshot.py --question "知识库助手支持哪些文件格式？" --out /tmp/shot.png

Starts ``streamlit run app.py`` on a free port with a temporary data dir (your data/kb is not
touched), lets the app build the default knowledge base on first run, asks the question in
headless Chromium (/usr/bin/chromium, via Playwright) and saves the page once the answer and its
sources are shown. The server is stopped at the end.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server(data_dir: Path, embedder: str | None, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KBA_")}
    env.update(KBA_DATA_DIR=str(data_dir), KBA_CONFIG=str(data_dir / "none.toml"))
    if embedder:
        env["KBA_EMBEDDER"] = embedder
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true"]
    command += ["--server.port", str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none"]
    server = subprocess.Popen(command, cwd=REPO, env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as response:
                if response.read() == b"ok":
                    return server
        except OSError:
            time.sleep(0.3)
    os.killpg(server.pid, signal.SIGTERM)
    raise SystemExit("streamlit did not start within 60 s")


def take(question: str, out: Path, embedder: str | None, timeout_s: float) -> None:
    """Run the app, ask ``question``, save a screenshot of the answer to ``out``."""
    from playwright.sync_api import sync_playwright

    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        server = _start_server(Path(tmp) / "kb", embedder, port)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1440, "height": 1000}, device_scale_factor=1)
                page.set_default_timeout(timeout_s * 1000)
                page.goto(f"http://127.0.0.1:{port}/")
                box = page.get_by_test_id("stChatInputTextArea")
                box.fill(question)
                box.press("Enter")
                page.locator("#kba-t0-s1").wait_for()
                page.evaluate("document.activeElement && document.activeElement.blur()")  # no focus ring
                page.wait_for_timeout(800)  # let the last layout settle
                page.get_by_test_id("stChatMessage").first.scroll_into_view_if_needed()
                out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(out))
                browser.close()
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(10)
    print(f"saved {out}")


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--question", default="本地运行 ChatGLM2-6B 需要多少显存？")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshot.png")
    parser.add_argument("--embedder", default=None, help="KBA_EMBEDDER for the run (default: the app's default)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for the first-run build + answer")
    args = parser.parse_args()
    take(args.question, args.out, args.embedder, args.timeout)


if __name__ == "__main__":
    main()
