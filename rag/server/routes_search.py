"""POST /v1/kbs/{kb}/search: the ranked chunks a question retrieves, for people building their own chains."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from rag.access import Principal
from rag.server.auth import CALLER, require_kb
from rag.server.state import STATE, ServerState
from rag.types import RetrievedChunk

router = APIRouter(tags=["Search"])


class SearchRequest(BaseModel):
    query: str = Field(min_length=1, max_length=4000)
    top_k: int | None = Field(None, ge=1, le=50, description="Results wanted (default: the top_k setting).")


def result_payload(rank: int, result: RetrievedChunk) -> dict:
    """One ranked chunk with why it ranked there."""
    chunk = result.chunk
    return {
        "rank": rank,
        "score": round(result.score, 4),
        "keyword_rank": result.keyword_rank,
        "dense_rank": result.dense_rank,
        "rerank_score": result.rerank_score,
        "chunk_id": chunk.id,
        "path": chunk.doc_name,
        "location": chunk.location,
        "lines": list(chunk.lines) if chunk.lines else None,
        "page": chunk.page,
        "heading": chunk.heading,
        "kind": chunk.kind,
        "text": chunk.text,
    }


@router.post("/v1/kbs/{kb}/search", summary="Ranked chunks for a query, with their scores")
def search(
    kb: str,
    body: SearchRequest,
    state: ServerState = STATE,
    principal: Principal = CALLER,
) -> dict:
    require_kb(state, principal, kb)
    results = state.assistant.retriever(kb).ranked(body.query, body.top_k)
    data = [result_payload(rank, r) for rank, r in enumerate(results, start=1)]
    return {"object": "list", "kb": kb, "query": body.query, "data": data}
