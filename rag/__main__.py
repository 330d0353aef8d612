"""Command line: python -m rag ask "问题" --kb NAME | python -m rag eval --kb NAME --questions FILE;
serve, keys and users (the HTTP API and the shared app) are in rag/cli_admin.py.

Exit codes, as for ``python -m ingest``: 0 a complete answer (or evaluation); 1 an answer that is
incomplete (the model failed or was cut off part-way: what was written is shown, and why); 2
nothing was answered: an error (bad arguments or settings, no such or empty knowledge base, the
model unreachable), one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from pydantic import ValidationError

from ingest.errors import KnowledgeBaseError
from ingest.logs import route_library_logs
from ingest.settings import invalid_configuration
from rag.cli_admin import add_commands, run_admin
from rag.config import Settings
from rag.types import Answer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rag", description="Ask the knowledge base; measure retrieval.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    ask = commands.add_parser("ask", help="answer a question with cited sources (streamed)")
    ask.add_argument("question")
    ask.add_argument("--kb", default=None, help="knowledge base (default: the configured default_kb)")
    ask.add_argument("--k", type=int, default=None, help="sources to offer the model (default: top_k)")
    ask.add_argument("--json", action="store_true", help="print one JSON object instead of streaming text")
    evaluate = commands.add_parser("eval", help="recall@k and MRR@10 over a JSONL file of questions")
    evaluate.add_argument("--kb", default=None)
    evaluate.add_argument("--questions", type=Path, required=True, help='lines of {"q": ..., "needles": [...]}')
    evaluate.add_argument("--k", type=int, default=4)
    evaluate.add_argument("--verbose", action="store_true", help="one line per question")
    add_commands(commands)
    return parser


_TERMINAL_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` without control characters (a model or document must not drive the terminal)."""
    return _TERMINAL_CONTROL.sub("", text)


def _exit_code(answer: Answer) -> int:
    if answer.error and not answer.text:
        return 2
    return 1 if answer.error or answer.cut_off else 0


def _ask(args: argparse.Namespace, settings: Settings, kb: str) -> int:
    from rag.chain import Assistant, citations_text
    from rag.export import answer_record

    assistant = Assistant(settings)
    answer: Answer | None = None
    for event in assistant.stream(args.question, [], kb):
        if isinstance(event, Answer):
            answer = event
        elif not args.json:
            print(printable(event), end="", flush=True)
    assert answer is not None
    if args.json:
        print(json.dumps(answer_record(answer), ensure_ascii=False, indent=2))
        return _exit_code(answer)
    if answer.text:
        print()
        for notice in answer.notices:
            print(f"note: {printable(notice)}", file=sys.stderr)
    if answer.cut_off:
        print(f"cut off: {printable(answer.cut_off)}", file=sys.stderr)
    if answer.error:
        print(f"error: {printable(answer.error)}", file=sys.stderr)
    if answer.sources:
        print("\nsources:\n" + printable(citations_text(answer.cited or answer.sources)))
    return _exit_code(answer)


def _eval(args: argparse.Namespace, settings: Settings, kb_name: str) -> int:
    from ingest.embeddings import get_embedder
    from ingest.pipeline import open_kb
    from rag.eval import evaluate, load_questions
    from rag.retrieve import Retriever

    kb = open_kb(settings, kb_name)
    questions = load_questions(args.questions)
    embedder = get_embedder(settings.embedder) if settings.retrieval_mode != "keyword" else None
    report = evaluate(Retriever(kb, embedder, settings), questions, args.k)
    if args.verbose:
        for result in report.results:
            rank = result.rank if result.rank is not None else "-"
            print(f"{'HIT ' if result.rank and result.rank <= args.k else 'MISS'} rank={rank}\t{result.question.q}")
    print(report.summary())
    return 0


def run(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit code (see the module docstring)."""
    args = _parser().parse_args(argv)
    overrides = {"top_k": args.k} if args.command == "ask" and args.k else {}
    try:
        settings = Settings(**overrides)
    except ValidationError as error:
        print(invalid_configuration(error), file=sys.stderr)
        return 2
    route_library_logs(settings.data_dir)
    try:
        if args.command in ("serve", "keys", "users"):
            return run_admin(args, settings)
        kb = settings.default_kb if args.kb is None else args.kb
        settings.kb_dir(kb)  # validates the name: '' or 'CON' is an error, not the default
        return _ask(args, settings, kb) if args.command == "ask" else _eval(args, settings, kb)
    except (KnowledgeBaseError, ValueError, OSError) as error:
        print(f"error: {printable(str(error))}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(run())
