"""The ``kb`` command that ``pip install -e .`` puts on the PATH: every face of the assistant, from
any folder.

    kb ingest build --kb NAME --source FOLDER     the same as python -m ingest build ...
    kb ask "问题" [--kb NAME] [--json]             the same as python -m rag ask ...
    kb eval | kb serve | kb keys | kb users ...   the same as python -m rag ...
    kb app [--share] [streamlit options]          the web app on http://127.0.0.1:8501 (./start.sh)

Settings come from KBA_* variables or kb_assistant.toml as always; the default data folder and
sample documents are the checkout's (ingest.settings), wherever the command runs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pydantic import ValidationError

from ingest.settings import invalid_configuration
from rag.config import Settings

RAG_COMMANDS = ("ask", "eval", "serve", "keys", "users")
# The Streamlit script beside the packages: the checkout's root in an editable install, and
# site-packages in a wheel install (app.py is installed as a top-level module).
APP = Path(__file__).resolve().parent.parent / "app.py"

USAGE = """usage: kb COMMAND [ARGS ...]

commands:
  ingest ...   manage knowledge bases (build, add, remove, list, stats, rebuild, kbs): kb ingest --help
  ask ...      answer a question with cited sources: kb ask "问题" --kb NAME
  eval ...     recall@k and MRR@10 over a question file
  serve ...    the OpenAI-compatible HTTP API (http://127.0.0.1:8000/docs)
  keys ...     API keys for the HTTP API
  users ...    people who sign in to the shared web app
  app ...      the web app (http://127.0.0.1:8501); --share listens on every address, sign-in required

Each command's --help says more. Settings: KBA_* variables or kb_assistant.toml."""

APP_USAGE = """usage: kb app [--share] [STREAMLIT OPTIONS ...]

Builds the default knowledge base from the sample documents if it is missing, then runs the web
app on http://127.0.0.1:8501. --share (or KBA_SHARE=1) listens on every address and asks everyone
to sign in: add users first with kb users add NAME --role admin. Other options go to
streamlit run, e.g. --server.port 8600."""


def app_command(args: list[str], settings: Settings) -> tuple[list[str], dict[str, str]] | int:
    """The streamlit command line and environment that start the app, after building the default
    knowledge base if it is missing; or the exit code that says why the app cannot start."""
    from ingest.errors import KnowledgeBaseError
    from ingest.pipeline import ensure_default_kb
    from rag.cli_admin import NO_USERS
    from rag.users import UserStore

    share = settings.share or "--share" in args
    environment = dict(os.environ)
    if share:
        if not UserStore(settings.data_dir).list():
            print(f"error: {NO_USERS}", file=sys.stderr)
            return 1
        environment["KBA_SHARE"] = "1"
        print("sharing on the network: everyone signs in (python -m rag users list)", file=sys.stderr)
    try:
        report = ensure_default_kb(settings)
    except KnowledgeBaseError as error:
        print(f"error: the default knowledge base could not be built: {error}", file=sys.stderr)
        return 2
    if report is not None:
        print(
            f"default knowledge base '{settings.default_kb}': {len(report.added)} documents from "
            f"{settings.sample_docs_dir}",
            file=sys.stderr,
        )
    address = "0.0.0.0" if share else "127.0.0.1"
    command = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true"]
    return [*command, "--server.address", address, *(a for a in args if a != "--share")], environment


def main(argv: list[str] | None = None) -> int:
    """Run one ``kb`` command; returns its exit code (those of python -m ingest / python -m rag)."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "ingest":
        from ingest.__main__ import run as ingest

        return ingest(rest)
    if command in RAG_COMMANDS:
        from rag.__main__ import run as rag

        return rag(args)
    if command != "app":
        print(f"error: unknown command {command!r}; one of: ingest, {', '.join(RAG_COMMANDS)}, app", file=sys.stderr)
        return 2
    if "-h" in rest or "--help" in rest:
        print(APP_USAGE)
        return 0
    try:
        settings = Settings()
    except ValidationError as error:
        print(invalid_configuration(error), file=sys.stderr)
        return 2
    started = app_command(rest, settings)
    if isinstance(started, int):
        return started
    line, environment = started
    os.execve(line[0], line, environment)  # the app replaces this process: Ctrl-C reaches streamlit


if __name__ == "__main__":
    sys.exit(main())
