"""``python -m rag serve``: refuse an open bind, say how the API is protected, run uvicorn."""

from __future__ import annotations

import sys

from rag.apikeys import KeyStore, bind_refusal
from rag.config import Settings

NO_AUTH = (
    "no API key exists: serving WITHOUT authentication, to this machine only. "
    "Create one (python -m rag keys create --name NAME) and every request will need it."
)


def serve(settings: Settings, host: str, port: int) -> int:
    """Build the default knowledge base if needed, load the model once, serve until stopped."""
    refusal = bind_refusal(KeyStore(settings.data_dir), host)
    if refusal:
        print(f"error: {refusal}", file=sys.stderr)
        return 2
    import uvicorn

    from ingest.pipeline import ensure_default_kb
    from rag.chain import Assistant
    from rag.server.app import create_app

    keys = KeyStore(settings.data_dir).list()
    print(
        f"note: {NO_AUTH}" if not keys else f"note: {len(keys)} API key(s); every request needs one.", file=sys.stderr
    )
    report = ensure_default_kb(settings)
    if report is not None:
        print(f"note: built knowledge base '{settings.default_kb}' ({len(report.added)} documents)", file=sys.stderr)
    assistant = Assistant(settings)
    print(f"model: {assistant.llm.label}", file=sys.stderr)
    if assistant.llm_warning:
        print(f"warning: {assistant.llm_warning}", file=sys.stderr)
    where = f"[{host}]" if ":" in host else host
    print(f"serving http://{where}:{port}/v1 (docs: http://{where}:{port}/docs)", file=sys.stderr, flush=True)
    uvicorn.run(create_app(settings, assistant), host=host, port=port, log_level="warning")
    return 0
