"""Work that outlives one Streamlit script run: an answer being written, an ingest running.

Streamlit stops a script run whenever the person clicks anything (the stop button, another page).
Running the core in a thread of its own means that click interrupts only the page drawing: the
answer or ingest carries on, and the next run picks up its progress or its result. No Streamlit
call is made from these threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from rag.chain import Assistant
from rag.types import Answer, Timings


class Job:
    """Runs ``work(job)`` in a daemon thread; ``work`` reports through the job, returns the result."""

    def __init__(self, label: str, work: Callable[[Job], Any]) -> None:
        self.label = label
        self.cancel = threading.Event()
        self.pieces: list[str] = []
        self.stage: tuple[str, int, int, str] | None = None
        self.result: Any = None
        self.error: BaseException | None = None
        self.started = time.monotonic()
        self._work = work
        self._finished = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"kba-{label}", daemon=True)

    def start(self) -> Job:
        """Start the thread; returns the job."""
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self.result = self._work(self)
        except BaseException as error:  # kept for the page to show; a thread has nobody else to tell
            self.error = error
        finally:
            self._finished.set()

    def progress(self, stage: str, done: int, total: int, detail: str = "") -> None:
        """A pipeline ``progress`` callback (ingest.progress): remembers the latest report."""
        self.stage = (stage, done, total, detail)

    @property
    def done(self) -> bool:
        """Whether the work has finished (with a result or an error)."""
        return self._finished.is_set()

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; True when finished."""
        return self._finished.wait(timeout)

    def text(self) -> str:
        """The streamed pieces so far."""
        return "".join(self.pieces)


def answer_job(assistant: Assistant, question: str, history: list[tuple[str, str]], kb: str) -> Job:
    """Stream an answer in the background; the job's result is always an Answer.

    Should the chain itself raise (it is built not to), the Answer carries the partial text and
    the error instead.
    """

    def work(job: Job) -> Answer:
        try:
            for event in assistant.stream(question, history, kb, cancel=job.cancel):
                if isinstance(event, Answer):
                    return event
                job.pieces.append(event)
            raise RuntimeError("the answer stream ended without an answer")
        except Exception as error:
            answer = Answer(question, job.text(), [], [], None, Timings(), assistant.llm.label)
            answer.error = f"{type(error).__name__}: {error}"
            return answer

    return Job(f"answer-{kb}", work).start()
