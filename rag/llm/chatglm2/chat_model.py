"""ChatGLM2 as a LangChain chat model, and the exact prompt ids it is fed."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import AIMessageChunk, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGenerationChunk
from pydantic import Field

from rag.llm.chatglm2.generate import TEMPERATURE, TOP_P, GenerationResult, stream_text
from rag.llm.local_model import LocalChatModel, closing_chunk, merge_consecutive
from rag.prompts import message_text


def split_messages(messages: Sequence[BaseMessage]) -> tuple[str, list[tuple[str, str]]]:
    """(query, history) from chat messages: System, (Human, AI)*, Human, as rag.prompts makes them.

    Consecutive messages of one role are merged first (LangChain callers send System, System,
    Human, Human, ...), and an answer with no question before it gets an empty question. ChatGLM2
    has no system role, so the system text is put before the last query, separated by a blank
    line. Raises ValueError when the messages do not end with the user's question.
    """
    merged = merge_consecutive(messages)
    system = [message_text(m) for m in merged if isinstance(m, SystemMessage)]
    turns = [m for m in merged if not isinstance(m, SystemMessage)]
    if not turns or not isinstance(turns[-1], HumanMessage):
        raise ValueError("ChatGLM2 needs the messages to end with the user's question (a HumanMessage)")
    history: list[tuple[str, str]] = []
    asked = ""
    for message in turns[:-1]:
        if isinstance(message, HumanMessage):
            asked = message_text(message)
        else:
            history.append((asked, message_text(message)))
            asked = ""
    query = message_text(turns[-1])
    if system:
        query = "\n\n".join([*system, query])
    return query, history


def chatglm2_prompt_ids(tokenizer: Any, messages: Sequence[BaseMessage]) -> list[int]:
    """The token ids ChatGLM2 is fed for ``messages``: used to generate and to count exactly."""
    query, history = split_messages(messages)
    return tokenizer.build_chat_ids(query, history)


class ChatGLM2Chat(LocalChatModel):
    """A loaded ChatGLM2 (GlmForCausalLM + ChatGLM2Tokenizer) speaking LangChain's chat interface.

    Streams token by token. Standard parameters: ``model_name``, ``max_tokens`` (None: up to the
    context window), ``temperature``, ``stop``, ``timeout`` (seconds one answer may take); per
    call, ``max_tokens``, ``temperature``, ``top_p``, ``seed``, ``timeout`` and ``cancel_event`` (a
    threading.Event that stops generation between tokens).
    """

    model: Any = Field(exclude=True, description="The loaded GlmForCausalLM.")
    tokenizer: Any = Field(exclude=True, description="Its ChatGLM2Tokenizer.")
    model_name: str = "chatglm2-6b"
    max_tokens: int | None = Field(512, ge=1, description="Most tokens one answer may have; None: no limit.")
    temperature: float = Field(TEMPERATURE, ge=0, description="0 is greedy decoding.")
    top_p: float = Field(TOP_P, gt=0, le=1)
    timeout: float | None = Field(None, gt=0, description="Seconds one answer may take; then it ends, 'timeout'.")
    context_window: int | None = None
    seed: int | None = None
    cancel_event: threading.Event | None = Field(default=None, exclude=True)

    call_options: ClassVar[frozenset[str]] = frozenset(
        {"max_tokens", "temperature", "top_p", "seed", "timeout", "cancel_event"}
    )

    @property
    def _llm_type(self) -> str:
        return "chatglm2"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "context_window": self.context_window,
        }

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        options = self.options(kwargs)
        prompt_ids = chatglm2_prompt_ids(self.tokenizer, messages)
        timeout = options.get("timeout", self.timeout)
        limit = options.get("max_tokens", self.max_tokens)
        if limit is None:  # no limit of our own: the context window ends the answer
            limit = self.context_window or self.model.chatglm2_info.seq_length
        result = GenerationResult()
        pieces = stream_text(
            self.model,
            self.tokenizer,
            prompt_ids,
            stop=self.stop_strings(stop),
            result=result,
            max_new_tokens=limit,
            temperature=options.get("temperature", self.temperature),
            top_p=options.get("top_p", self.top_p),
            max_length=self.context_window,
            cancel=options.get("cancel_event", self.cancel_event),
            seed=options.get("seed", self.seed),
            deadline=time.monotonic() + timeout if timeout else None,
        )
        for piece in pieces:
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
            if run_manager:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk
        usage = {
            "input_tokens": len(prompt_ids),
            "output_tokens": len(result.token_ids),
            "total_tokens": len(prompt_ids) + len(result.token_ids),
        }
        yield ChatGenerationChunk(
            message=closing_chunk(self, result.finish_reason, usage),
            generation_info={"finish_reason": result.finish_reason},
        )
