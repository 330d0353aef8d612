"""GET /v1/models and POST /v1/chat/completions: each knowledge base is a model.

The route only translates: the answer comes from the one Assistant (rag/chain.py). It reads the
chain's first event before it answers, so a question that cannot be answered at all gets a real
status (400, 503) instead of a stream that starts well and then fails; later failures travel in
the stream as an error event, the way OpenAI's own stream reports them.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator

from fastapi import APIRouter
from fastapi.responses import JSONResponse, StreamingResponse

from ingest.stores import knowledge_bases
from rag.access import Principal, readable
from rag.chain import AnswerEvent
from rag.llm.factory import FALLBACK_NOTE
from rag.options import answer_usage
from rag.server.auth import CALLER, require_kb
from rag.server.errors import ApiError
from rag.server.limits import Ticket
from rag.server.openai_format import DONE, ChatRequest, Envelope, sse
from rag.server.state import STATE, ServerState
from rag.types import Answer

router = APIRouter(tags=["OpenAI-compatible"])


@router.get("/v1/models", summary="The knowledge bases this key may read, one model each")
def list_models(
    state: ServerState = STATE,
    principal: Principal = CALLER,
) -> dict:
    names = readable(principal, knowledge_bases(state.settings))
    data = [{"id": name, "object": "model", "created": 0, "owned_by": "kb-assistant"} for name in names]
    return {"object": "list", "data": data}


def _unanswerable(answer: Answer) -> ApiError:
    """The status of an answer that failed before any text: retrieval's fault (400) or the model's (503)."""
    if answer.sources:
        return ApiError(503, f"the language model failed: {answer.error}", "model_unavailable")
    return ApiError(400, answer.error or "no answer", "unanswerable")


def _stream(
    envelope: Envelope,
    first: AnswerEvent,
    events: Iterator[AnswerEvent],
    finish: Callable[[], None],
    state: ServerState,
    include_usage: bool,
) -> Iterator[bytes]:
    try:
        yield sse(envelope.chunk({"role": "assistant", "content": ""}))
        event = first
        while not isinstance(event, Answer):
            yield sse(envelope.chunk({"content": event}))
            event = next(events)
        if event.error:
            error = {"message": event.error, "type": "service_unavailable", "param": None, "code": "model_failed"}
            yield sse({"error": error})
        else:
            usage = answer_usage(state.assistant.llm, event) if include_usage else None
            yield sse(envelope.last_chunk(event, usage))
        yield DONE
    finally:
        finish()


@router.post("/v1/chat/completions", summary="Answer from a knowledge base, with its sources", response_model=None)
def chat_completions(
    body: ChatRequest,
    state: ServerState = STATE,
    principal: Principal = CALLER,
) -> JSONResponse | StreamingResponse:
    question, history, options = body.conversation()
    kb = body.model
    require_kb(state, principal, kb)
    if state.assistant.llm_warning:
        reason = state.assistant.llm_warning.removesuffix(FALLBACK_NOTE).strip()
        raise ApiError(503, f"the configured language model is unavailable: {reason}", "model_unavailable")
    ticket: Ticket = state.admission.admit()
    cancel = threading.Event()
    events = state.assistant.stream(question, history, kb, cancel=cancel, options=options)

    def finish() -> None:
        cancel.set()
        events.close()
        ticket.release()

    streaming = False
    try:
        first = next(events)
        if isinstance(first, Answer) and first.error:
            raise _unanswerable(first)
        if not body.stream:
            *_, answer = itertools.chain([first], events)
            assert isinstance(answer, Answer)
            if answer.error:
                raise _unanswerable(answer)
            return JSONResponse(Envelope(kb).completion(answer, answer_usage(state.assistant.llm, answer)))
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        chunks = _stream(Envelope(kb), first, events, finish, state, include_usage)
        opening = next(chunks)  # started, so that its finally runs even if the client leaves before reading
        streaming = True
        return StreamingResponse(itertools.chain([opening], chunks), media_type="text/event-stream")
    finally:
        if not streaming:
            finish()
