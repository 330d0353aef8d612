"""Who is calling: ``Authorization: Bearer KEY`` checked against the data dir's API keys.

While no key exists at all, callers from the loopback address are the local user (full access)
and everyone else is refused; ``python -m rag serve`` will not even bind another address then.
Once a key exists, every request needs a valid one, from anywhere.
"""

from __future__ import annotations

from fastapi import Depends, Request

from ingest.stores import knowledge_bases
from rag.access import LOCAL, Action, Principal, allowed, is_loopback
from rag.server.errors import ApiError
from rag.server.state import STATE, ServerState

CHALLENGE = {"WWW-Authenticate": "Bearer"}
HOW_TO_GET_A_KEY = "create one with: python -m rag keys create --name NAME"
VERBS: dict[Action, str] = {
    "read": "read",
    "write": "change the documents of",
    "manage": "create or delete",
    "configure": "configure the model of",
}


def authenticate(request: Request, state: ServerState = STATE) -> Principal:
    """FastAPI dependency: the caller as a Principal, or 401."""
    header = request.headers.get("authorization", "")
    if not state.keys.exists():
        if is_loopback(request.client.host if request.client else None):
            return LOCAL
        raise ApiError(
            401,
            f"this server has no API keys yet and serves only its own machine; {HOW_TO_GET_A_KEY}",
            "no_api_keys",
            headers=CHALLENGE,
        )
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401,
            f"missing API key: send 'Authorization: Bearer KEY' ({HOW_TO_GET_A_KEY})",
            "missing_api_key",
            headers=CHALLENGE,
        )
    key = state.keys.verify(token.strip())
    if key is None:
        raise ApiError(
            401, "invalid API key (revoked, mistyped, or from another server)", "invalid_api_key", headers=CHALLENGE
        )
    return key.principal()


def require(principal: Principal, action: Action, kb: str | None = None) -> None:
    """403 unless ``principal`` may do ``action`` to ``kb``."""
    if not allowed(principal, action, kb):
        target = f"knowledge base '{kb}'" if kb is not None else "this server"
        raise ApiError(403, f"key '{principal.name}' may not {VERBS[action]} {target}", "permission_denied")


def require_kb(state: ServerState, principal: Principal, kb: str, action: Action = "read") -> None:
    """403 unless allowed, then 404 unless ``kb`` exists: in that order, so that a key limited to
    some knowledge bases learns nothing about the names of others."""
    require(principal, action, kb)
    if kb not in knowledge_bases(state.settings):
        raise ApiError(404, f"knowledge base '{kb}' does not exist", "kb_not_found")


CALLER = Depends(authenticate)
"""The Principal parameter default of every route."""
