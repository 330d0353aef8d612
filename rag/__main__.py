"""Command line: python -m rag ask "问题" --kb NAME | python -m rag eval --kb NAME --questions FILE;
serve, keys and users (the HTTP API and the shared app) are in rag/cli_admin.py."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from ingest.errors import KnowledgeBaseError
from rag.cli_admin import add_commands, run_admin
from rag.config import Settings


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


def _ask(args: argparse.Namespace, settings: Settings) -> int:
    from rag.chain import Assistant, citations_text
    from rag.types import Answer

    assistant = Assistant(settings)
    answer: Answer | None = None
    for event in assistant.stream(args.question, [], args.kb or settings.default_kb):
        if isinstance(event, Answer):
            answer = event
        elif not args.json:
            print(event, end="", flush=True)
    assert answer is not None
    if args.json:
        print(json.dumps(dataclasses.asdict(answer), ensure_ascii=False, indent=2))
        return 1 if answer.error else 0
    print()
    for notice in answer.notices:
        print(f"note: {notice}", file=sys.stderr)
    if answer.error:
        print(f"error: {answer.error}", file=sys.stderr)
    if answer.sources:
        print("\nsources:\n" + citations_text(answer.cited or answer.sources))
    return 1 if answer.error else 0


def _eval(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.embeddings import get_embedder
    from ingest.pipeline import open_kb
    from rag.eval import evaluate, load_questions
    from rag.retrieve import Retriever

    questions = load_questions(args.questions)
    kb = open_kb(settings, args.kb or settings.default_kb)
    embedder = get_embedder(settings.embedder) if settings.retrieval_mode != "keyword" else None
    report = evaluate(Retriever(kb, embedder, settings), questions, args.k)
    if args.verbose:
        for result in report.results:
            rank = result.rank if result.rank is not None else "-"
            print(f"{'HIT ' if result.rank and result.rank <= args.k else 'MISS'} rank={rank}\t{result.question.q}")
    print(report.summary())
    return 0


def run(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit code."""
    args = _parser().parse_args(argv)
    overrides = {"top_k": args.k} if args.command == "ask" and args.k else {}
    settings = Settings(**overrides)
    try:
        if args.command in ("serve", "keys", "users"):
            return run_admin(args, settings)
        return _ask(args, settings) if args.command == "ask" else _eval(args, settings)
    except (KnowledgeBaseError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(run())
