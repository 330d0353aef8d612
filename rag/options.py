"""Per-question choices of a caller (the HTTP API's request fields), applied without a new model.

``Assistant.stream(..., options=AnswerOptions(...))``: ``max_tokens`` also sets the room the
prompt packer leaves for the answer; ``temperature`` / ``top_p`` / ``max_tokens`` go to this one
call of the backend (``model.stream(messages, **kwargs)``), named as that backend wants them;
``instructions`` (a caller's system message) are added to our instruction as the caller's
wishes, after the rules on citing and on sources being data, which stay.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langchain_core.messages import HumanMessage

from rag.config import Settings
from rag.llm.base import LLMHandle
from rag.types import Answer


@dataclass(frozen=True)
class AnswerOptions:
    """What one caller asked for; None keeps the configured value."""

    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    instructions: str = ""

    def settings_for(self, settings: Settings) -> Settings:
        """``settings`` with the answer's reserved room set to ``max_tokens`` when given."""
        if self.max_tokens is None or self.max_tokens == settings.max_new_tokens:
            return settings
        return settings.model_copy(update={"max_new_tokens": self.max_tokens})


def sampling_kwargs(llm: LLMHandle, options: AnswerOptions | None) -> dict[str, Any]:
    """Keyword arguments for ``llm.model.stream`` that apply ``options`` to one call.

    ChatGLM2 reads LangChain's standard ``max_tokens``; OpenAI-compatible servers get it both as
    langchain-openai sends it (``max_completion_tokens``) and in the body (older servers read only
    that); the extractive backend has nothing to sample.
    """
    if options is None or llm.model._llm_type == "extractive":
        return {}
    picked: dict[str, Any] = {
        name: value for name in ("temperature", "top_p") if (value := getattr(options, name)) is not None
    }
    if options.max_tokens is not None:
        picked["max_tokens"] = options.max_tokens
        if llm.model._llm_type != "chatglm2":
            picked["extra_body"] = {"max_tokens": options.max_tokens}
    return picked


@dataclass(frozen=True)
class TokenUsage:
    """Tokens of one answer; ``exact`` False when counted one per character (no tokenizer)."""

    prompt_tokens: int
    completion_tokens: int
    exact: bool

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def answer_usage(llm: LLMHandle, answer: Answer) -> TokenUsage:
    """The prompt as packed (counted on the exact messages sent) and the answer's text, in the
    backend's own tokens."""
    empty = llm.count_prompt([HumanMessage("")])
    completion = answer.output_tokens  # the model's own count; else the text counted again
    if completion is None:
        completion = max(0, llm.count_prompt([HumanMessage(answer.text)]) - empty) if answer.text else 0
    prompt = answer.packing.total_tokens if answer.packing else 0
    return TokenUsage(prompt, completion, llm.exact)
