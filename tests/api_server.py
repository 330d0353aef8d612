"""The HTTP API served for real by uvicorn on a free loopback port, in a thread of the test process."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import uvicorn

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
