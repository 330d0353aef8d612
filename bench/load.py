"""Part 8, load: many clients at once on one HTTP API server (``python -m rag serve``).

CLIENTS threads, each with its own stock ``openai`` client, ask QUESTIONS questions in turn
(streamed, ``chat.completions.create(stream=True)``) against a server process of its own, twice:
with the extractive backend, and with the fake streaming LLM server (tests/fake_openai_server.py,
started here) as an OpenAI-compatible backend. Per answer: latency (request to last byte), time
to first byte (request to first text chunk), and whether it failed or came without sources; the
server's resident memory is sampled all along. The baseline, in the same run: the same clients
as threads calling the in-process ``Assistant.stream`` directly, without HTTP.
The knowledge base is the shared corpus built with the default embedder. --quick: 2 clients x 3
questions, the hashing embedder, and the app served in a thread of this process (no second
interpreter to start; its memory figure is then this process's).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil
import uvicorn

from bench.cache import cached_embedders
from bench.common import (
    BENCH_QUESTIONS,
    CORPUS,
    REPO,
    RunOptions,
    load_average,
    machine_info,
    percentiles,
    write_json,
)
from ingest.pipeline import build_from_folder
from rag.chain import Assistant
from rag.config import Settings
from rag.server import create_app
from rag.types import Answer
from scripts.browser import free_port
from tests.fake_openai_server import FakeOpenAIServer

CLIENTS, QUESTIONS = 16, 20
QUICK_CLIENTS, QUICK_QUESTIONS = 2, 3
KB = "load"
# A longer streamed reply than the fake server's default, cited like a real one.
FAKE_PIECES = [f"第{i}句说明资料里的要点，" for i in range(24)] + ["结论见资料。[1]"]
Ask = Callable[[str], tuple[float | None, float, bool]]
"""ask(question) -> (seconds to first text, seconds to the end, answered with sources)."""


def _questions() -> list[str]:
    lines = BENCH_QUESTIONS.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["q"] for line in lines if line.strip()]


def _load(ask: Ask, clients: int, per_client: int, questions: list[str]) -> dict[str, Any]:
    """Run ``clients`` threads of ``per_client`` questions through ``ask``; the figures."""
    ttfb: list[float] = []
    latency: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client(index: int) -> None:
        for turn in range(per_client):
            question = questions[(index * per_client + turn) % len(questions)]
            try:
                first, total, ok = ask(question)
            except Exception as error:  # counted, not raised: the figure is how many failed
                with lock:
                    errors.append(f"{type(error).__name__}: {error}"[:200])
                continue
            with lock:
                latency.append(total)
                if first is not None:
                    ttfb.append(first)
                if not ok:
                    errors.append("answer without text or sources")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    return {
        "answers": len(latency),
        "errors": len(errors),
        "error_examples": sorted(set(errors))[:5],
        "seconds": round(seconds, 2),
        "answers_per_s": round(len(latency) / seconds, 2),
        "latency": percentiles(latency),
        "ttfb": percentiles(ttfb),
    }


def _api_ask(url: str) -> Ask:
    from openai import OpenAI

    local = threading.local()

    def ask(question: str) -> tuple[float | None, float, bool]:
        if not hasattr(local, "client"):
            local.client = OpenAI(base_url=url, api_key="-", max_retries=0, timeout=300)
        started = time.perf_counter()
        first: float | None = None
        text, sources = "", []
        stream = local.client.chat.completions.create(
            model=KB, messages=[{"role": "user", "content": question}], stream=True
        )
        for chunk in stream:
            piece = chunk.choices[0].delta.content if chunk.choices else None
            if piece and first is None:
                first = time.perf_counter() - started
            text += piece or ""
            sources = (chunk.model_extra or {}).get("sources") or sources
        return first, time.perf_counter() - started, bool(text and sources)

    return ask


def _in_process_ask(assistant: Assistant) -> Ask:
    def ask(question: str) -> tuple[float | None, float, bool]:
        started = time.perf_counter()
        first: float | None = None
        for event in assistant.stream(question, [], KB):
            if isinstance(event, Answer):
                return first, time.perf_counter() - started, bool(event.text and event.sources and not event.error)
            if first is None:
                first = time.perf_counter() - started
        raise RuntimeError("the stream ended without an answer")

    return ask


class _Server:
    """``python -m rag serve`` in a process of its own, with its resident memory sampled every 0.1 s.

    With ``settings`` (--quick) the same app runs in a thread of this process instead: seconds
    faster to start, but its memory is then this process's.
    """

    def __init__(self, env: dict[str, str], log: Path, settings: Settings | None = None) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}/v1"
        self.log = log
        self._output = log.open("w")
        self.rss: list[int] = []
        self._stop = threading.Event()
        self._uvicorn: uvicorn.Server | None = None
        if settings is not None:
            config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
            self._uvicorn = uvicorn.Server(config)
            threading.Thread(target=self._uvicorn.run, daemon=True).start()
            self.pid = os.getpid()
            return
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rag", "serve", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=self._output,
            stderr=subprocess.STDOUT,
        )
        self.pid = self.process.pid

    def wait_ready(self, timeout_s: float = 300) -> None:
        """Return once the server answers; RuntimeError (with its log) if it exits or never does."""
        deadline = time.monotonic() + timeout_s
        while (self._uvicorn is not None or self.process.poll() is None) and time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/models", timeout=5).status_code == 200:
                    threading.Thread(target=self._sample, daemon=True).start()
                    return
            time.sleep(0.1)
        raise RuntimeError(f"the API server did not start: {self.log.read_text()[-2000:]}")

    def _sample(self) -> None:
        handle = psutil.Process(self.pid)
        while not self._stop.wait(0.1):
            with contextlib.suppress(psutil.Error):
                self.rss.append(handle.memory_info().rss)

    def rss_now(self) -> int:
        return psutil.Process(self.pid).memory_info().rss

    def stop(self) -> None:
        self._stop.set()
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
        else:
            self.process.terminate()
            self.process.wait(30)
        self._output.close()


def _measure(settings: Settings, server: _Server, clients: int, per_client: int) -> dict[str, Any]:
    questions = _questions()
    ask = _api_ask(server.url)
    ask(questions[0])  # warm-up: the embedder and the knowledge base load on the first question
    idle = server.rss_now()
    api = _load(ask, clients, per_client, questions)
    peak = max([idle, *server.rss, server.rss_now()])
    api["server_rss_mb"] = {"after_warmup": round(idle / 2**20, 1), "peak": round(peak / 2**20, 1)}
    baseline = _in_process_ask(Assistant(settings))
    baseline(questions[0])
    return {"api": api, "in_process": _load(baseline, clients, per_client, questions)}


def run(opts: RunOptions) -> dict[str, Any]:
    """Build the knowledge base, load both backends over HTTP and in process, write load.json."""
    spec = "hashing" if opts.quick else Settings().embedder
    clients, per_client = (QUICK_CLIENTS, QUICK_QUESTIONS) if opts.quick else (CLIENTS, QUESTIONS)
    data_dir = opts.work / "load"
    shutil.rmtree(data_dir, ignore_errors=True)
    settings = Settings(data_dir=data_dir, embedder=spec, default_kb=KB, llm_backend="extractive")
    with cached_embedders([] if spec == "hashing" else [spec]):
        report = build_from_folder(settings, KB, CORPUS)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KBA_")}
    env.update(
        KBA_DATA_DIR=str(data_dir), KBA_EMBEDDER=spec, KBA_DEFAULT_KB=KB, KBA_CONFIG=os.devnull, PYTHONPATH=str(REPO)
    )
    started_load = load_average()
    with FakeOpenAIServer(pieces=FAKE_PIECES) as fake:
        llm = settings.model_copy(update={"llm_backend": "openai", "openai_base_url": fake.base_url})
        backends = {
            "extractive": (settings, {**env, "KBA_LLM_BACKEND": "extractive"}),
            "fake_llm": (llm, {**env, "KBA_LLM_BACKEND": "openai", "KBA_OPENAI_BASE_URL": fake.base_url}),
        }
        servers = {
            name: _Server(server_env, opts.work / f"load-{name}.log", backend if opts.quick else None)
            for name, (backend, server_env) in backends.items()
        }
        try:
            for server in servers.values():  # both started at once, then measured one after the other
                server.wait_ready()
            runs = {name: _measure(backends[name][0], server, clients, per_client) for name, server in servers.items()}
        finally:
            for server in servers.values():
                server.stop()
    result = {
        "quick": opts.quick,
        "clients": clients,
        "questions_per_client": per_client,
        "embedder": spec,
        "kb_documents": len(report.added),
        "kb_chunks": report.chunks_embedded + report.chunks_reused,
        "api_max_concurrent": settings.api_max_concurrent,
        "api_max_queued": settings.api_max_queued,
        "fake_llm_pieces": len(FAKE_PIECES),
        "server": "in a thread of the bench process (--quick)"
        if opts.quick
        else "python -m rag serve, its own process",
        "runs": runs,
        "cpu": f"{machine_info()['cpu_model']}, {machine_info()['usable_cores']} usable cores",
        "load_average": {"start": started_load, "end": load_average()},
    }
    write_json(opts.out / "load.json", result)
    return result
