"""The app in a real browser, for the end-to-end test and the README screenshot.

``running_app(data_dir, **env)`` starts ``streamlit run app.py`` on a free loopback port with its
own data dir (KBA_* variables of the caller's environment are dropped) and yields its URL; the
server's whole process group is stopped afterwards. Chromium is Debian's, driven by Playwright.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, server: subprocess.Popen[bytes], timeout_s: float) -> None:
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
    raise TimeoutError(f"streamlit did not answer on {url} within {timeout_s:g} s")


@contextlib.contextmanager
def running_app(data_dir: Path, log: Path | None = None, timeout_s: float = 60, **env: str) -> Iterator[str]:
    """Run the app against ``data_dir`` with extra KBA_* settings in ``env``; yields its base URL."""
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("KBA_")}
    environment.update(KBA_DATA_DIR=str(data_dir), KBA_CONFIG=str(data_dir / "none.toml"), **env)
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true"]
    command += ["--server.port", str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none"]
    output = log.open("wb") if log else subprocess.DEVNULL
    server = subprocess.Popen(
        command, cwd=REPO, env=environment, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, server, timeout_s)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        if log:
            output.close()  # type: ignore[union-attr]
