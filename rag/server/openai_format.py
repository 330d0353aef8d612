"""OpenAI's chat-completions shapes in and out: the request, the response, the stream's chunks.

Ours adds top-level fields that stock clients keep as extras (openai's models allow them):
``sources`` (every numbered source offered to the model: number, path, location, lines, page,
symbol, kind, score, text, cited: rag.export.source_record), ``verdicts`` (the citation check of
each sentence: rag.export.verdict_record), ``notices`` (what the answer's page would say beside
it) and ``cut_off`` (why the answer stopped early, or null).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rag.export import source_record, verdict_record
from rag.options import AnswerOptions, TokenUsage
from rag.server.errors import ApiError
from rag.types import Answer


class TextPart(BaseModel):
    """One part of a message's content; only text parts are understood."""

    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = None

    def text(self) -> str:
        """The message's text; 400 for images, audio or other non-text parts."""
        if self.content is None or isinstance(self.content, str):
            return self.content or ""
        if any(part.type != "text" for part in self.content):
            raise ApiError(400, "only text content is supported", "unsupported_content", "messages")
        return "".join(part.text or "" for part in self.content)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class ChatRequest(BaseModel):
    """POST /v1/chat/completions: ``model`` names the knowledge base. Other OpenAI fields are ignored."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(description="The knowledge base to answer from (GET /v1/models lists them).")
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1, le=32768)
    max_completion_tokens: int | None = Field(None, ge=1, le=32768)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    n: int | None = Field(None, ge=1, le=1, description="Only one answer per request.")

    def conversation(self) -> tuple[str, list[tuple[str, str]], AnswerOptions]:
        """(question, earlier (question, answer) pairs, the caller's options) from the messages.

        System and developer messages become the caller's extra instructions; consecutive
        messages of one role are joined; the last message must be the user's.
        """
        instructions = "\n\n".join(m.text() for m in self.messages if m.role in ("system", "developer"))
        turns: list[tuple[str, str]] = []
        for message in self.messages:
            if message.role in ("user", "assistant"):
                if turns and turns[-1][0] == message.role:
                    turns[-1] = (message.role, f"{turns[-1][1]}\n\n{message.text()}")
                else:
                    turns.append((message.role, message.text()))
        if turns and turns[0][0] == "assistant":
            turns.pop(0)
        if not turns or turns[-1][0] != "user":
            raise ApiError(400, "the last message must be the user's question", "invalid_messages", "messages")
        history = [(asked, answered) for (_, asked), (_, answered) in zip(turns[:-1:2], turns[1:-1:2], strict=True)]
        options = AnswerOptions(
            max_tokens=self.max_completion_tokens or self.max_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            instructions=instructions,
        )
        return turns[-1][1], history, options


def sources_payload(answer: Answer) -> list[dict[str, Any]]:
    """Every source offered to the model, [1]..[n], each saying whether the answer cites it (rag.export)."""
    cited = {c.number for c in answer.cited}
    return [source_record(c, c.number in cited) for c in answer.sources]


def finish_reason(answer: Answer) -> str:
    """OpenAI's finish_reason: "length" when the answer ran into max_tokens, else "stop"."""
    return "length" if answer.cut_off and "max_new_tokens" in answer.cut_off else "stop"


def usage_payload(usage: TokenUsage) -> dict[str, Any]:
    """OpenAI's usage object; ``estimated`` is added when no tokenizer was known (1 token per char)."""
    payload: dict[str, Any] = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
    if not usage.exact:
        payload["estimated"] = True
    return payload


class Envelope:
    """The id, creation time and model shared by one response's objects."""

    def __init__(self, model: str) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.model = model

    def _base(self, kind: str) -> dict[str, Any]:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model}

    def completion(self, answer: Answer, usage: TokenUsage) -> dict[str, Any]:
        """The whole (stream: false) response."""
        message = {"role": "assistant", "content": answer.text}
        return {
            **self._base("chat.completion"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason(answer), "logprobs": None}],
            "usage": usage_payload(usage),
            "sources": sources_payload(answer),
            "verdicts": [verdict_record(v) for v in answer.verdicts],
            "notices": answer.notices,
            "cut_off": answer.cut_off,
        }

    def chunk(self, delta: dict[str, Any], finish_reason: str | None = None, **extra: Any) -> dict[str, Any]:
        """One streamed chunk."""
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        return {**self._base("chat.completion.chunk"), "choices": [choice], **extra}

    def last_chunk(self, answer: Answer, usage: TokenUsage | None) -> dict[str, Any]:
        """The closing chunk: finish_reason, the sources, the notices, and usage when asked for."""
        return self.chunk(
            {},
            finish_reason(answer),
            usage=usage_payload(usage) if usage else None,
            sources=sources_payload(answer),
            verdicts=[verdict_record(v) for v in answer.verdicts],
            notices=answer.notices,
            cut_off=answer.cut_off,
        )


def sse(payload: dict[str, Any]) -> bytes:
    """One server-sent event."""
    return b"data: " + json.dumps(payload, ensure_ascii=False).encode("utf-8") + b"\n\n"


DONE = b"data: [DONE]\n\n"
