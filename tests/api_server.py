"""The HTTP API served for real on a free loopback port: by uvicorn in a thread of the test process
(``running_api``), or as ``python -m rag serve`` in a process of its own (``serving``)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import uvicorn
from conftest import CORPUS, REPO, cli_env

from rag.chain import Assistant
from rag.config import Settings
from rag.server import create_app
from scripts.browser import free_port


@contextlib.contextmanager
def running_api(settings: Settings, assistant: Assistant | None = None) -> Iterator[str]:
    """Serve ``create_app(settings, assistant)``; yields the base URL ending in /v1, stops afterwards."""
    port = free_port()
    config = uvicorn.Config(create_app(settings, assistant), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="kba-test-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the API server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(10)


@contextlib.contextmanager
def serving(settings: Settings, key: str = "", *args: str) -> Iterator[str]:
    """``python -m rag serve`` on a free port with ``settings``' data dir; yields its /v1 URL once it
    answers ``key`` (empty: no keys exist), and stops its process group afterwards."""
    port = free_port()
    env = {**cli_env(settings), "KBA_SAMPLE_DOCS_DIR": str(CORPUS)}
    log_path = settings.data_dir.parent / f"serve-{port}.log"
    log = log_path.open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "rag", "serve", "--port", str(port), *args],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/v1"
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        deadline = time.monotonic() + 90
        while server.poll() is None:
            assert time.monotonic() < deadline, log_path.read_text()
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/models", headers=headers).status_code == 200:
                    break
            time.sleep(0.2)
        assert server.poll() is None, log_path.read_text()
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(10)
        log.close()
