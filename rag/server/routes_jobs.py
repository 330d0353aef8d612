"""GET /v1/jobs/{id}: how an upload or rebuild is getting on, and what it did."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ingest.pipeline import IngestReport
from ingest.progress import describe, overall
from rag.access import Principal
from rag.server.auth import CALLER, require
from rag.server.errors import ApiError
from rag.server.state import STATE, JobRecord, ServerState

router = APIRouter(tags=["Jobs"])


def report_summary(report: IngestReport) -> dict[str, Any]:
    """What an ingest did: documents by outcome, chunks embedded or reused, seconds."""
    return {
        "added": report.added,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "removed": report.removed,
        "chunks_embedded": report.chunks_embedded,
        "chunks_reused": report.chunks_reused,
        "seconds": round(report.seconds, 3),
    }


def job_payload(record: JobRecord) -> dict[str, Any]:
    """The job as the API shows it: state, latest progress stage, result summary, every failure."""
    job = record.job
    stage, done, total, detail = job.stage or (None, 0, 0, "")
    report: IngestReport | None = job.result if isinstance(job.result, IngestReport) else None
    failures = [{"file": name, "reason": reason} for name, reason in record.rejected]
    if report is not None:
        failures += [{"file": name, "reason": reason} for name, reason in report.failed]
    return {
        "object": "job",
        "id": record.id,
        "kind": record.kind,
        "kb": record.kb,
        "state": job.state,
        "stage": stage,
        "done": done,
        "total": total,
        "detail": detail,
        "progress": round(overall(stage, done, total), 3) if stage else (1.0 if job.state == "done" else 0.0),
        "message": describe(stage, done, total, detail) if stage else "",
        "result": report_summary(report) if report is not None else None,
        "failures": failures,
        "error": str(job.error) if job.error is not None else None,
    }


@router.get("/v1/jobs/{job_id}", summary="Progress and result of an upload or rebuild")
def get_job(
    job_id: str,
    state: ServerState = STATE,
    principal: Principal = CALLER,
) -> dict[str, Any]:
    record = state.jobs.get(job_id)
    if record is None:
        raise ApiError(404, f"no job '{job_id}' (jobs are kept while the server runs)", "job_not_found")
    require(principal, "read", record.kb)
    return job_payload(record)
