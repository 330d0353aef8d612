"""How many answers the API writes at once, and how many it lets wait.

Every chat request takes a ticket on arrival (or gets 429 with Retry-After when ``writers +
queued`` are already inside) and keeps it until its answer is complete. Retrieval runs for every
ticket holder in parallel; only the model's generation waits for one of ``writers`` slots: the
model is wrapped in GatedChat, so whatever calls it (the answer, a follow-up rewrite) queues.
The local ChatGLM2 has one slot; OpenAI-compatible servers and the extractive backend have
``api_max_concurrent``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field

# Seconds one generation is assumed to take before any has been measured (for Retry-After).
FIRST_GUESS_S = 5.0
SMOOTHING = 0.2


class Busy(Exception):
    """Every writer and every waiting place is taken."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"the server is busy answering other questions; retry in about {retry_after_s} s")
        self.retry_after_s = retry_after_s


class Ticket:
    """One admitted request; release it once its answer is complete (releasing twice is harmless)."""

    def __init__(self, admission: Admission) -> None:
        self._admission = admission
        self._released = False

    def release(self) -> None:
        """Leave the admission (idempotent)."""
        if not self._released:
            self._released = True
            self._admission._leave()


class Admission:
    """At most ``writers + queued`` requests inside; ``writers`` of them generating at a time."""

    def __init__(self, writers: int, queued: int) -> None:
        self.writers, self.queued = writers, queued
        self._inside = 0
        self._lock = threading.Lock()
        self._slots = threading.Semaphore(writers)
        self._generation_s = FIRST_GUESS_S

    @property
    def inside(self) -> int:
        """Requests admitted and not yet released."""
        return self._inside

    def admit(self) -> Ticket:
        """A ticket, or Busy (with the seconds to wait) when the queue is full."""
        with self._lock:
            if self._inside >= self.writers + self.queued:
                raise Busy(self.retry_after_s())
            self._inside += 1
        return Ticket(self)

    def _leave(self) -> None:
        with self._lock:
            self._inside -= 1

    def retry_after_s(self) -> int:
        """Seconds until a place is likely free: the waves of generations ahead, at the recent mean."""
        waves = max(1, math.ceil((self._inside - self.writers + 1) / self.writers))
        return max(1, math.ceil(waves * self._generation_s))

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the ``writers`` generation slots (waits for one)."""
        self._slots.acquire()
        started = time.monotonic()
        try:
            yield
        finally:
            self._slots.release()
            took = time.monotonic() - started
            self._generation_s += SMOOTHING * (took - self._generation_s)


class GatedChat(BaseChatModel):
    """``inner`` behind an Admission's generation slots; otherwise the same model."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    inner: BaseChatModel
    admission: Any = Field(exclude=True)

    @property
    def _llm_type(self) -> str:
        return self.inner._llm_type

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        with self.admission.slot():
            message = self.inner.invoke(messages, stop=stop, **kwargs)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        with self.admission.slot():
            for chunk in self.inner.stream(messages, stop=stop, **kwargs):
                yield ChatGenerationChunk(message=chunk)
