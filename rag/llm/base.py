"""What every LLM backend hands the answer chain."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage


@dataclass
class LLMHandle:
    """A ready chat model plus what the context packer needs to know about it.

    ``count_prompt`` returns the exact number of prompt tokens the model will see for a list of
    messages (``exact`` False: an upper-bound estimate). ``generative`` is False for the
    extractive backend, which quotes sources instead of writing.
    """

    label: str
    model: BaseChatModel
    context_window: int
    count_prompt: Callable[[list[BaseMessage]], int]
    tokenizer_name: str
    exact: bool = True
    generative: bool = True


class LLMUnavailable(Exception):
    """The configured model cannot be used; the message says why and what to do."""
