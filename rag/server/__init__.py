"""The HTTP API: ``python -m rag serve``. One engine behind three faces (app, CLI, API).

app.py             create_app(settings, assistant=None) -> FastAPI
routes_chat.py     GET /v1/models, POST /v1/chat/completions (OpenAI-compatible; model = KB)
routes_search.py   POST /v1/kbs/{kb}/search
routes_kbs.py      knowledge bases, documents, uploads, rebuilds
routes_jobs.py     GET /v1/jobs/{id}
auth.py            API keys (Authorization: Bearer), permissions (rag.access)
limits.py          how many answers are written at once, how many wait (429 past that)
uploads.py         multipart bodies staged as they arrive, size limit enforced while reading
errors.py          OpenAI's error JSON with the right status
serve.py           the command: bind rules, uvicorn
"""

from rag.server.app import create_app

__all__ = ["create_app"]
