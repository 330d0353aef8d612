"""What our in-process chat models share: LangChain's standard parameters, checked strictly.

Both ExtractiveChat and ChatGLM2Chat take ``model_name``, ``max_tokens``, ``stop`` and
``streaming`` under LangChain's standard names, report them for tracing (``ls_model_name``,
``ls_max_tokens``, ...), put ``model_name`` into every answer's ``response_metadata`` and reject
a parameter they do not know, at construction and per call, instead of ignoring it (a
misspelt ``max_token`` must not silently write 512 tokens).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field

from rag.prompts import message_text


class LocalChatModel(BaseChatModel):
    """A chat model that runs in this process. Subclasses list their per-call options in
    ``call_options`` and read them with ``options(kwargs)``."""

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    model_name: str = Field(description="Name reported to tracing and in response_metadata['model_name'].")
    max_tokens: int | None = Field(None, ge=1, description="Most tokens one answer may have; None: no limit.")
    stop: list[str] | None = Field(None, description="Strings that end the answer (not emitted).")
    streaming: bool = Field(
        False, description="LangChain's flag: invoke() runs through stream(); callbacks get every token either way."
    )

    call_options: ClassVar[frozenset[str]] = frozenset({"max_tokens"})

    def options(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """``kwargs`` of one call, after checking each is an option this model has."""
        unknown = sorted(set(kwargs) - self.call_options)
        if unknown:
            raise TypeError(
                f"{type(self).__name__} does not take {', '.join(map(repr, unknown))} "
                f"(it takes {', '.join(sorted(self.call_options))})"
            )
        return kwargs

    def stop_strings(self, stop: Sequence[str] | None) -> list[str]:
        """The stop strings of one call: its own, else the constructor's."""
        return [s for s in (stop if stop is not None else self.stop or []) if s]

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        """The whole answer: the subclass's ``_stream`` (which always ends with its closing chunk), merged."""
        merged: ChatGenerationChunk | None = None
        for chunk in self._stream(messages, stop=stop, run_manager=run_manager, **kwargs):
            merged = chunk if merged is None else merged + chunk
        if merged is None:
            raise RuntimeError(f"{type(self).__name__} produced no output")
        message = AIMessage(
            content=merged.message.content,
            usage_metadata=merged.message.usage_metadata,
            response_metadata=merged.message.response_metadata,
        )
        return ChatResult(generations=[ChatGeneration(message=message, generation_info=merged.generation_info)])

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = self._llm_type
        if not isinstance(kwargs.get("model"), str):
            params["ls_model_name"] = self.model_name
        if "ls_stop" not in params and self.stop:
            params["ls_stop"] = self.stop
        return params


def merge_consecutive(messages: Iterable[BaseMessage]) -> list[BaseMessage]:
    """``messages`` with each run of one role joined into one message (texts separated by a blank
    line): System, System, Human, Human, AI, AI, Human becomes System, Human, AI, Human.

    Raises ValueError for a role these models do not have (tool results, function calls).
    """
    merged: list[BaseMessage] = []
    for message in messages:
        kind = next((k for k in (SystemMessage, HumanMessage, AIMessage) if isinstance(message, k)), None)
        if kind is None:
            raise ValueError(f"{type(message).__name__} is not supported: only system, human and AI messages")
        text = message_text(message)
        if merged and isinstance(merged[-1], kind):
            merged[-1] = kind("\n\n".join([message_text(merged[-1]), text]))
        else:
            merged.append(kind(text))
    return merged


def closing_chunk(model: LocalChatModel, finish_reason: str, usage: dict[str, int]) -> AIMessageChunk:
    """The empty last chunk of a stream: why it ended, the model's name and the token usage."""
    metadata = {"finish_reason": finish_reason, "model_name": model.model_name}
    return AIMessageChunk(content="", usage_metadata=usage, response_metadata=metadata, chunk_position="last")
