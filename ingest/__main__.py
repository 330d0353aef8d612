"""Command line: python -m ingest build|add|remove|list|stats|rebuild|migrate|kbs [--kb NAME].

Exit codes (the same for ``python -m rag``): 0 done; 1 done, but some files were skipped or
some documents could not be rebuilt from their originals (each named on stderr with its reason);
2 nothing was done: an error (bad arguments or settings, no such knowledge base, read-only,
busy), one line on stderr; 130 interrupted (the knowledge base is unchanged).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from pydantic import ValidationError

from ingest import pipeline
from ingest.errors import InvalidName, KnowledgeBaseError
from ingest.logs import route_library_logs
from ingest.names import safe_file_name
from ingest.pipeline import IncomingFile, IngestReport
from ingest.settings import IngestSettings, invalid_configuration
from ingest.stores import knowledge_bases

EXAMPLES = """examples:
  python -m ingest build --kb corpus --source ../shared/corpus   sync a KB with a folder
  python -m ingest add --kb corpus notes.md report.pdf           add or replace files
  python -m ingest remove --kb corpus notes.md                   remove documents
  python -m ingest list --kb corpus                              documents and chunk counts
  python -m ingest stats --kb corpus                             sizes, embedder, index generation
  python -m ingest rebuild --kb corpus                           apply new settings (embedder, chunks, windows)
  python -m ingest migrate --kb corpus --to milvus               copy it into Milvus (KBA_MILVUS_URI)
  python -m ingest kbs                                           knowledge bases on this machine

Unchanged files are never embedded twice. Settings come from KBA_* environment variables
(KBA_EMBEDDER, KBA_CHUNK_SIZE, KBA_DATA_DIR, ...) or kb_assistant.toml.

exit codes: 0 done, 1 some files skipped (each named), 2 error (one line), 130 interrupted."""


STAGE_LABELS = {
    "scan": "scan (files seen)",
    "parse": "read+parse+split (files)",
    "ocr": "OCR (pages)",
    "embed": "embed (chunks)",
    "write": "write (chunks)",
    "index": "index (vectors)",
    "copy": "copy (documents)",
}


class _Bar:
    """tqdm bars per stage on stderr (none with --quiet or when stderr is not a terminal); a wait
    for another writer is said once, in words, even with --quiet."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bars: dict[str, object] = {}
        self.waiting_for = ""

    def __call__(self, stage: str, done: int, total: int, detail: str = "") -> None:
        if stage == "wait":
            if detail != self.waiting_for:
                self.waiting_for = detail
                print(f"{detail} (waits up to {total} s) ...", file=sys.stderr, flush=True)
            return
        if self.quiet or (total == 0 and stage != "scan"):
            return
        from tqdm import tqdm

        bar = self.bars.get(stage)
        if bar is None:
            label = STAGE_LABELS.get(stage, stage)
            size = total or None  # the scan counts files without knowing how many there are
            bar = self.bars[stage] = tqdm(total=size, desc=label, file=sys.stderr, leave=False, disable=None)
        bar.n = done  # type: ignore[attr-defined]
        bar.refresh()  # type: ignore[attr-defined]
        if total and done >= total:
            bar.close()  # type: ignore[attr-defined]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ingest",
        description="Manage knowledge bases: documents -> chunks -> embeddings + keyword index.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--kb", default=None, help="knowledge base name (default: the configured default_kb)")
        sub.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
        return sub

    build = command("build", "sync a knowledge base with a folder: add new/changed files, drop missing ones")
    build.add_argument(
        "--source", type=Path, required=True, help="folder of documents or a project (walked like git: see README)"
    )
    for flag, help_text in (("--include", "only files matching GLOB"), ("--exclude", "leave out files matching GLOB")):
        build.add_argument(flag, action="append", default=[], metavar="GLOB", help=f"{help_text} (repeatable)")
    build.add_argument("-v", "--verbose", action="store_true", help="list every file left out, with its reason")
    build.add_argument(
        "--if-missing",
        action="store_true",
        help="do nothing if the knowledge base exists (rebuild it from its files if this version cannot read it)",
    )
    command("add", "add or replace files").add_argument("files", nargs="+", type=Path, metavar="FILE")
    command("remove", "remove documents by name").add_argument("names", nargs="+", metavar="NAME")
    command("list", "list documents with their chunk counts")
    command("stats", "show size, embedder and index details")
    command("rebuild", "re-parse every document with the current settings, embedding what they change")
    migrate = command("migrate", "copy a knowledge base to the other store backend, embedding nothing again")
    migrate.add_argument("--to", choices=["milvus", "embedded"], required=True, help="the backend to copy it into")
    command("kbs", "list the knowledge bases")
    return parser


def _print_report(report: IngestReport, verbose: bool = False) -> None:
    for name, reason in report.failed:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    for name, note in report.warnings:
        print(f"warning {name}: {note}", file=sys.stderr)
    if verbose:
        for left in report.skipped:
            print(f"left out {left.path}: {left.reason}" + (f" ({left.detail})" if left.detail else ""))
    if report.skipped:
        counts = Counter(left.reason for left in report.skipped).most_common()
        reasons = ", ".join(f"{reason} {count}" for reason, count in counts)
        hint = "" if verbose else " (--verbose lists them)"
        print(f"left out {len(report.skipped)} files or folders by the project rules: {reasons}{hint}")
    print(
        f"added {len(report.added)}, updated {len(report.updated)}, unchanged {len(report.unchanged)}, "
        f"removed {len(report.removed)}, failed {len(report.failed)}; "
        f"embedded {report.chunks_embedded} chunks, reused {report.chunks_reused}; {report.seconds:.2f} s"
    )


def _incoming(paths: list[Path]) -> tuple[list[IncomingFile], list[tuple[str, str]]]:
    """The files of ``add``, and the ones whose name cannot be a document name (with the reason)."""
    files, refused = [], []
    for path in paths:
        try:
            files.append(IncomingFile(safe_file_name(path.name), path))
        except InvalidName as error:
            refused.append((str(path), str(error)))
    return files, refused


def _migrate(settings: IngestSettings, kb: str, to: str, progress: _Bar) -> int:
    from ingest.migrate import migrate

    report = migrate(settings, kb, to, progress)  # type: ignore[arg-type]  # argparse checked the choice
    for name in report.missing_originals:
        print(f"skipped the original of {name}: it is missing; copied as its stored chunks", file=sys.stderr)
    source = "embedded" if to == "milvus" else "milvus"
    print(
        f"copied '{kb}' to the {to} store: {report.documents} documents, {report.chunks} chunks, nothing "
        f"embedded; {report.seconds:.2f} s. The {source} copy is unchanged: set KBA_STORE={to} to use the new one"
    )
    return 1 if report.missing_originals else 0


def run(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit code (EXIT_CODES)."""
    args = _parser().parse_args(argv)
    try:
        settings = IngestSettings()
    except ValidationError as error:
        print(invalid_configuration(error), file=sys.stderr)
        return 2
    route_library_logs(settings.data_dir)
    kb = settings.default_kb if args.kb is None else args.kb
    progress = _Bar(args.quiet)
    try:
        settings.kb_dir(kb)  # validates the name: '' or 'CON' is an error, not the default
        if args.command == "kbs":
            for name in knowledge_bases(settings):
                print(name)
            return 0
        if args.command in {"list", "stats"}:
            store = pipeline.open_kb(settings, kb)
            try:
                if args.command == "list":
                    for doc in store.documents():
                        print(f"{doc.name}\t{doc.chunks} chunks\t{doc.size_bytes} bytes\t{doc.added_at}")
                else:
                    for key, value in store.stats().items():
                        print(f"{key}: {value}")
            finally:
                store.close()
            return 0
        if args.command == "migrate":
            return _migrate(settings, kb, args.to, progress)
        if args.command == "build" and args.if_missing and kb in knowledge_bases(settings):
            upgraded = pipeline.upgrade_if_unreadable(settings, kb, progress)
            if upgraded is None:
                print(f"knowledge base '{kb}' exists; nothing to do")
                return 0
            print(f"knowledge base '{kb}' could not be read by this version: rebuilt from its stored files")
            report = upgraded
        elif args.command == "build":
            report = pipeline.build_from_folder(settings, kb, args.source, progress, args.include, args.exclude)
        elif args.command == "add":
            files, refused = _incoming(args.files)
            report = pipeline.add_files(settings, kb, files, progress) if files else IngestReport()
            report.failed[:0] = refused
        elif args.command == "remove":
            report = pipeline.remove_documents(settings, kb, args.names, progress)
        else:
            report = pipeline.rebuild(settings, kb, progress)
    except KnowledgeBaseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the knowledge base is unchanged", file=sys.stderr)
        return 130
    _print_report(report, getattr(args, "verbose", False))
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(run())
