"""ChatGLM2 as a LangChain chat model, and the exact prompt ids it is fed."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field

from rag.llm.chatglm2.generate import TEMPERATURE, TOP_P, GenerationResult, stream_text
from rag.prompts import message_text


def split_messages(messages: Sequence[BaseMessage]) -> tuple[str, list[tuple[str, str]]]:
    """(query, history) from messages shaped as in rag.prompts: System, (Human, AI)*, Human.

    ChatGLM2 has no system role, so the system text is put before the last query, separated by a
    blank line. Raises ValueError for any other shape.
    """
    system = [message_text(m) for m in messages if isinstance(m, SystemMessage)]
    turns = [m for m in messages if not isinstance(m, SystemMessage)]
    if not turns or not isinstance(turns[-1], HumanMessage):
        raise ValueError("ChatGLM2 needs the messages to end with the user's question (a HumanMessage)")
    if len(turns) % 2 != 1:
        raise ValueError("ChatGLM2 history must alternate HumanMessage and AIMessage")
    history: list[tuple[str, str]] = []
    for asked, answered in zip(turns[:-1:2], turns[1:-1:2], strict=True):
        if not isinstance(asked, HumanMessage) or not isinstance(answered, AIMessage):
            raise ValueError("ChatGLM2 history must alternate HumanMessage and AIMessage")
        history.append((message_text(asked), message_text(answered)))
    query = message_text(turns[-1])
    if system:
        query = "\n\n".join([*system, query])
    return query, history


def chatglm2_prompt_ids(tokenizer: Any, messages: Sequence[BaseMessage]) -> list[int]:
    """The token ids ChatGLM2 is fed for ``messages``: used to generate and to count exactly."""
    query, history = split_messages(messages)
    return tokenizer.build_chat_ids(query, history)


class ChatGLM2Chat(BaseChatModel):
    """A loaded ChatGLM2 (GlmForCausalLM + ChatGLM2Tokenizer) speaking LangChain's chat interface.

    Streams token by token. Pass ``cancel_event`` (a threading.Event) to the constructor or to a
    single call (``model.stream(messages, cancel_event=event)``) to stop between tokens.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model: Any = Field(exclude=True)
    tokenizer: Any = Field(exclude=True)
    temperature: float = TEMPERATURE
    top_p: float = TOP_P
    max_new_tokens: int = 512
    context_window: int | None = None
    seed: int | None = None
    cancel_event: threading.Event | None = Field(default=None, exclude=True)

    @property
    def _llm_type(self) -> str:
        return "chatglm2"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "top_p": self.top_p, "max_new_tokens": self.max_new_tokens,
                "context_window": self.context_window}

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        prompt_ids = chatglm2_prompt_ids(self.tokenizer, messages)
        result = GenerationResult()
        pieces = stream_text(
            self.model,
            self.tokenizer,
            prompt_ids,
            stop=stop or (),
            result=result,
            max_new_tokens=kwargs.get("max_new_tokens", self.max_new_tokens),
            temperature=kwargs.get("temperature", self.temperature),
            top_p=kwargs.get("top_p", self.top_p),
            max_length=self.context_window,
            cancel=kwargs.get("cancel_event", self.cancel_event),
            seed=kwargs.get("seed", self.seed),
        )
        for piece in pieces:
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
            if run_manager:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk
        usage = {"input_tokens": len(prompt_ids), "output_tokens": len(result.token_ids),
                 "total_tokens": len(prompt_ids) + len(result.token_ids)}
        yield ChatGenerationChunk(
            message=AIMessageChunk(content="", usage_metadata=usage,
                                   response_metadata={"finish_reason": result.finish_reason}),
            generation_info={"finish_reason": result.finish_reason},
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        merged: ChatGenerationChunk | None = None
        for chunk in self._stream(messages, stop=stop, run_manager=run_manager, **kwargs):
            merged = chunk if merged is None else merged + chunk
        if merged is None:  # unreachable: _stream always ends with its usage chunk
            raise RuntimeError("ChatGLM2 produced no output")
        message = AIMessage(
            content=merged.message.content,
            usage_metadata=merged.message.usage_metadata,
            response_metadata=merged.message.response_metadata,
        )
        return ChatResult(generations=[ChatGeneration(message=message, generation_info=merged.generation_info)])
