"""What one API process holds: the settings, the one Assistant, the keys, the admission, the jobs."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Depends, Request

from rag.apikeys import KeyStore
from rag.chain import Assistant
from rag.config import Settings
from rag.jobs import Job
from rag.server.limits import Admission

KEEP_FINISHED_JOBS = 200


@dataclass
class JobRecord:
    """A background job started through the API, with what it concerns."""

    id: str
    kind: str  # "upload" or "rebuild"
    kb: str
    job: Job
    rejected: list[tuple[str, str]] = field(default_factory=list)  # files refused before ingest


class JobTable:
    """Jobs by id; the oldest finished ones are forgotten past KEEP_FINISHED_JOBS."""

    def __init__(self) -> None:
        self._records: dict[str, JobRecord] = {}
        self._lock = threading.Lock()

    def start(
        self, kind: str, kb: str, work: Callable[[Job], Any], rejected: list[tuple[str, str]] | None = None
    ) -> JobRecord:
        """Start ``work`` on a thread of its own and remember it under a new id."""
        record = JobRecord(uuid.uuid4().hex, kind, kb, Job(f"{kind}-{kb}", work), rejected or [])
        with self._lock:
            finished = [r.id for r in self._records.values() if r.job.done]
            for old in finished[: max(0, len(finished) - KEEP_FINISHED_JOBS + 1)]:
                del self._records[old]
            self._records[record.id] = record
        record.job.start()
        return record

    def get(self, job_id: str) -> JobRecord | None:
        """The job with this id, or None."""
        return self._records.get(job_id)


@dataclass
class ServerState:
    """Everything the routers share; built once by create_app."""

    settings: Settings
    assistant: Assistant
    keys: KeyStore
    admission: Admission
    jobs: JobTable = field(default_factory=JobTable)


def get_state(request: Request) -> ServerState:
    """FastAPI dependency: the app's ServerState."""
    return request.app.state.kba


STATE = Depends(get_state)
"""The ServerState parameter default of every route."""
