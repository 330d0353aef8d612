"""Work that outlives the request or page that started it: an answer being written, an ingest running.

A Job runs ``work(job)`` on a daemon thread of its own and keeps what the work reports (the
pieces it streamed, the latest progress stage) and how it ended (a result or an error), for
whoever polls it: a Streamlit page on its next run, the HTTP API's ``GET /v1/jobs/{id}``.
Nothing here knows about either face.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Literal

JobState = Literal["running", "succeeded", "failed"]


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
        self.finished_at: float | None = None
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
        except BaseException as error:  # kept for the poller to show; a thread has nobody else to tell
            self.error = error
        finally:
            self.finished_at = time.monotonic()
            self._finished.set()

    def progress(self, stage: str, done: int, total: int, detail: str = "") -> None:
        """A pipeline ``progress`` callback (ingest.progress): remembers the latest report."""
        self.stage = (stage, done, total, detail)

    @property
    def done(self) -> bool:
        """Whether the work has finished (with a result or an error)."""
        return self._finished.is_set()

    @property
    def state(self) -> JobState:
        """running, succeeded (a result) or failed (an error)."""
        if not self.done:
            return "running"
        return "failed" if self.error is not None else "succeeded"

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; True when finished."""
        return self._finished.wait(timeout)

    def text(self) -> str:
        """The streamed pieces so far."""
        return "".join(self.pieces)
