"""create_app: the FastAPI application over the one core (Assistant, the ingest pipeline)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator

import anyio
from fastapi import FastAPI

from rag.apikeys import KeyStore
from rag.chain import Assistant
from rag.config import Settings
from rag.server import routes_chat, routes_jobs, routes_kbs, routes_search
from rag.server.errors import install_error_handlers
from rag.server.limits import Admission, GatedChat
from rag.server.state import ServerState

# Worker threads beyond the answers in flight, for the quick routes (models, search, jobs).
SPARE_THREADS = 16


def _gated(assistant: Assistant, settings: Settings) -> tuple[Assistant, Admission]:
    """An Assistant on the same loaded model, behind the admission that fits its backend."""
    llm = assistant.llm
    writers = 1 if llm.model._llm_type == "chatglm2" else settings.api_max_concurrent
    admission = Admission(writers, settings.api_max_queued)
    gated = dataclasses.replace(llm, model=GatedChat(inner=llm.model, admission=admission))
    return Assistant(settings, llm=gated, llm_warning=assistant.llm_warning), admission


def create_app(settings: Settings, assistant: Assistant | None = None) -> FastAPI:
    """The HTTP API for ``settings``' data dir; ``assistant`` reuses an already loaded model.

    OpenAPI docs at /docs. Every error is OpenAI's error JSON (rag/server/errors.py).
    """
    engine, admission = _gated(assistant or Assistant(settings), settings)
    state = ServerState(settings, engine, KeyStore(settings.data_dir), admission)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Each answer in flight holds a worker thread while it waits for the model.
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = max(limiter.total_tokens, admission.writers + admission.queued + SPARE_THREADS)
        yield

    app = FastAPI(
        title="Knowledge-base assistant",
        summary="OpenAI-compatible chat over your knowledge bases, with cited sources; search and management.",
        version="1",
        lifespan=lifespan,
    )
    app.state.kba = state
    install_error_handlers(app)
    for module in (routes_chat, routes_search, routes_kbs, routes_jobs):
        app.include_router(module.router)
    return app
