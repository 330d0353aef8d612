"""A small real HTTP server on 127.0.0.1 that speaks the OpenAI chat-completions protocol.

It answers ``POST /v1/chat/completions`` (JSON, or SSE chunks when ``stream`` is true) and
``GET /v1/models``, records every request, and can be told to misbehave the ways real servers do:

    "ok"          normal answers
    "500"         HTTP 500 with a JSON error body
    "garbage"     HTTP 200 with an HTML page instead of JSON / SSE
    "broken_sse"  one good chunk, then a ``data:`` line that is not JSON
    "slow"        sleeps ``delay_s`` before answering (beyond the client's timeout)
    "stall"       streams one chunk, then sleeps ``delay_s`` mid-stream
    "cut"         streams half the pieces, then closes: no finish_reason, no ``[DONE]``
    "keepalive"   streams half the pieces, then sends SSE comments every 0.1 s for ``delay_s``

A request naming a model other than ``model`` gets vLLM's 404 ("The model `x` does not exist.").
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class RecordedRequest:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: dict[str, Any] | None


@dataclass
class FakeOpenAIServer:
    """Start with ``with FakeOpenAIServer() as server:``; ``server.base_url`` ends in ``/v1``."""

    pieces: list[str] = field(default_factory=lambda: ["根据", "资料", "，答案", "是 42", "。[1]"])
    model: str = "chatglm2-6b"
    max_model_len: int | None = 8192
    mode: str = "ok"
    delay_s: float = 1.0
    requests: list[RecordedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def base_url(self) -> str:
        """The URL a client is configured with, e.g. ``http://127.0.0.1:PORT/v1``."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """The chat-completions requests received so far."""
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def __enter__(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _make_handler(server: FakeOpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # silence stderr noise
            pass

        def _record(self, body: dict[str, Any] | None) -> None:
            headers = {name.lower(): value for name, value in self.headers.items()}
            server.requests.append(RecordedRequest(self.command, self.path, headers, body))

        def _send(self, status: int, payload: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            self._record(None)
            if self.path.rstrip("/") != "/v1/models":
                self._send(404, b'{"detail":"Not Found"}')
                return
            card: dict[str, Any] = {"id": server.model, "object": "model", "owned_by": "fake"}
            if server.max_model_len is not None:
                card["max_model_len"] = server.max_model_len
            self._send(200, json.dumps({"object": "list", "data": [card]}).encode())

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            self._record(body)
            # The client may have given up already (timeout tests).
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._answer(body or {})

        def _answer(self, body: dict[str, Any]) -> None:
            mode = server.mode
            if mode == "slow":
                time.sleep(server.delay_s)
            if body.get("model") != server.model:
                message = f"The model `{body.get('model')}` does not exist."
                error = {"object": "error", "message": message, "type": "NotFoundError", "code": 404}
                self._send(404, json.dumps(error).encode())
            elif mode == "500":
                error = {"object": "error", "message": "CUDA out of memory", "type": "InternalServerError"}
                self._send(500, json.dumps(error).encode())
            elif mode == "garbage":
                self._send(200, b"<html><body>502 Bad Gateway (nginx)</body></html>", "text/html")
            elif body.get("stream"):
                self._stream()
            else:
                message = {"role": "assistant", "content": "".join(server.pieces)}
                choice = {"index": 0, "message": message, "finish_reason": "stop"}
                self._send(200, json.dumps(_envelope(server.model, "chat.completion", choice)).encode())

        def _stream(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()  # HTTP/1.0: the stream ends when the connection closes
            deltas = [{"role": "assistant", "content": ""}] + [{"content": p} for p in server.pieces]
            for i, delta in enumerate(deltas):
                if server.mode == "broken_sse" and i == 2:
                    self.wfile.write(b'data: {"choices": [{"delta": {"content": "x"\n\n')
                    self.wfile.flush()
                    return
                if server.mode == "stall" and i == 2:
                    time.sleep(server.delay_s)
                if server.mode in {"cut", "keepalive"} and i == len(deltas) // 2 + 1:
                    deadline = time.monotonic() + (server.delay_s if server.mode == "keepalive" else 0)
                    while time.monotonic() < deadline:
                        self.wfile.write(b": keep-alive\n\n")
                        self.wfile.flush()
                        time.sleep(0.1)
                    return
                choice = {"index": 0, "delta": delta, "finish_reason": None}
                self._event(_envelope(server.model, "chat.completion.chunk", choice))
            stop = {"index": 0, "delta": {}, "finish_reason": "stop"}
            self._event(_envelope(server.model, "chat.completion.chunk", stop))
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()

        def _event(self, payload: dict[str, Any]) -> None:
            self.wfile.write(b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\n\n")
            self.wfile.flush()

    return Handler


def _envelope(model: str, kind: str, choice: dict[str, Any]) -> dict[str, Any]:
    return {"id": "chatcmpl-fake", "object": kind, "created": int(time.time()), "model": model, "choices": [choice]}
