"""Knowledge-base management: list, create, delete; documents listed, uploaded, deleted; rebuild.

Uploads and rebuilds return 202 with a job (GET /v1/jobs/{id} follows it); everything goes
through the ingest pipeline, whose write lock keeps this process, the web app and the CLI from
writing one knowledge base at the same time.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from python_multipart.exceptions import ParseError

from ingest.pipeline import IngestReport, add_files, create_kb, delete_kb, open_kb, rebuild, remove_documents
from ingest.stores import knowledge_bases
from ingest.uploads import new_staging_folder
from rag.access import Principal, readable
from rag.jobs import Job
from rag.server.auth import CALLER, require, require_kb
from rag.server.errors import ApiError
from rag.server.routes_jobs import job_payload
from rag.server.state import STATE, ServerState
from rag.server.uploads import NotMultipart, UploadTooLarge, stage_multipart

router = APIRouter(tags=["Knowledge bases"])


class NewKnowledgeBase(BaseModel):
    name: str = Field(description="Letters (Chinese too), digits, '_', '-', '.'; at most 64 characters.")


def _kb_payload(state: ServerState, name: str) -> dict:
    kb = open_kb(state.settings, name)
    try:
        stats = kb.stats()
    finally:
        kb.close()
    return {"object": "kb", "name": name, **stats}


@router.get("/v1/kbs", summary="The knowledge bases this key may read, with their sizes")
def list_kbs(state: ServerState = STATE, principal: Principal = CALLER) -> dict:
    names = readable(principal, knowledge_bases(state.settings))
    return {"object": "list", "data": [_kb_payload(state, name) for name in names]}


@router.post("/v1/kbs", status_code=201, summary="Create an empty knowledge base")
def create(body: NewKnowledgeBase, state: ServerState = STATE, principal: Principal = CALLER) -> dict:
    require(principal, "manage", body.name)
    if body.name in knowledge_bases(state.settings):
        raise ApiError(409, f"knowledge base '{body.name}' exists already", "kb_exists", "name")
    create_kb(state.settings, body.name).close()
    return _kb_payload(state, body.name)


@router.delete("/v1/kbs/{kb}", summary="Delete a knowledge base and all its files")
def delete(kb: str, state: ServerState = STATE, principal: Principal = CALLER) -> dict:
    require_kb(state, principal, kb, "manage")
    state.assistant.forget(kb)
    delete_kb(state.settings, kb)
    state.assistant.forget(kb)
    return {"object": "kb", "name": kb, "deleted": True}


@router.get("/v1/kbs/{kb}/documents", summary="The documents of a knowledge base")
def documents(kb: str, state: ServerState = STATE, principal: Principal = CALLER) -> dict:
    require_kb(state, principal, kb)
    handle = open_kb(state.settings, kb)
    try:
        return {"object": "list", "data": [asdict(doc) for doc in handle.documents()]}
    finally:
        handle.close()


@router.post(
    "/v1/kbs/{kb}/documents",
    status_code=202,
    summary="Upload files (multipart/form-data, one part per file); ingested by a job",
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"}}},
                    }
                }
            },
            "required": True,
        }
    },
)
async def upload(kb: str, request: Request, state: ServerState = STATE, principal: Principal = CALLER) -> JSONResponse:
    await anyio.to_thread.run_sync(require_kb, state, principal, kb, "write")
    settings = state.settings
    folder = new_staging_folder(settings.data_dir)
    body = request.stream().__aiter__()

    def read_block() -> bytes:  # runs in the worker thread below, pulling the body from the event loop
        try:
            return anyio.from_thread.run(body.__anext__)
        except StopAsyncIteration:
            return b""

    max_bytes = int(settings.max_file_mb * 2**20)
    content_type = request.headers.get("content-type", "")
    try:
        staged, rejected = await anyio.to_thread.run_sync(stage_multipart, read_block, content_type, folder, max_bytes)
    except UploadTooLarge as error:
        shutil.rmtree(folder, ignore_errors=True)
        raise ApiError(413, str(error), "file_too_large") from None
    except (NotMultipart, ParseError) as error:
        shutil.rmtree(folder, ignore_errors=True)
        raise ApiError(400, f"not a usable multipart upload: {error}", "invalid_upload") from None
    if not staged:
        shutil.rmtree(folder, ignore_errors=True)
        reasons = "; ".join(f"{name}: {reason}" for name, reason in rejected) or "the request holds no file"
        raise ApiError(400, f"no file could be accepted ({reasons})", "no_usable_file")

    def work(job: Job) -> IngestReport:
        try:
            return add_files(settings, kb, staged, job.progress)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    record = state.jobs.start("upload", kb, work, rejected)
    return JSONResponse(job_payload(record), status_code=202)


@router.delete("/v1/kbs/{kb}/documents/{name:path}", summary="Delete one document")
def delete_document(kb: str, name: str, state: ServerState = STATE, principal: Principal = CALLER) -> dict:
    require_kb(state, principal, kb, "write")
    report = remove_documents(state.settings, kb, [name])
    if not report.removed:
        raise ApiError(404, f"knowledge base '{kb}' has no document '{name}'", "document_not_found")
    return {"object": "document", "kb": kb, "name": report.removed[0], "deleted": True}


@router.post("/v1/kbs/{kb}/rebuild", status_code=202, summary="Re-parse and re-embed every document (a job)")
def start_rebuild(kb: str, state: ServerState = STATE, principal: Principal = CALLER) -> JSONResponse:
    require_kb(state, principal, kb, "write")
    settings, assistant = state.settings, state.assistant

    def work(job: Job) -> IngestReport:
        assistant.forget(kb)  # release the old files before they are swapped
        try:
            return rebuild(settings, kb, job.progress)
        finally:
            assistant.forget(kb)

    return JSONResponse(job_payload(state.jobs.start("rebuild", kb, work)), status_code=202)
