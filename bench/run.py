"""Run the benchmarks and write bench/results/*.json, plots and bench/report.md.

    python bench/run.py                        # everything (about 35-45 minutes on 2 cores)
    python bench/run.py --only quality,packing # some parts; the report uses every JSON present
    python bench/run.py --quick --out /tmp/b   # smoke run: tiny sizes, hashing embedder, seconds

Parts: quality, ingest, latency, memory, packing, removal, upload, load, ocr, verify, refusal, project,
ann_recall, milvus (see each module's docstring). Knowledge bases are built in a scratch folder that is
removed afterwards.
The report goes beside the results folder when it is the default one (bench/report.md), else
into the results folder.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import DEFAULT_OUT, REPO, RunOptions, machine_info, read_json, write_json

PARTS = (
    "quality",
    "ingest",
    "latency",
    "memory",
    "packing",
    "removal",
    "upload",
    "load",
    "ocr",
    "verify",
    "refusal",
    "project",
    "ann_recall",
    "milvus",
)


def _isolate_settings() -> None:
    """Benchmarks measure the code's defaults: no KBA_* variable or config file of the caller applies."""
    for name in list(os.environ):
        if name.startswith("KBA_"):
            del os.environ[name]
    os.environ["KBA_CONFIG"] = os.devnull


def _run_part(name: str, opts: RunOptions) -> float:
    started = time.perf_counter()
    if name == "quality":
        from bench import quality as module
    elif name == "ingest":
        from bench import ingest_speed as module  # type: ignore[no-redef]
    elif name == "latency":
        from bench import latency as module  # type: ignore[no-redef]
    elif name == "memory":
        from bench import memory as module  # type: ignore[no-redef]
    elif name == "removal":
        from bench import removal as module  # type: ignore[no-redef]
    elif name == "upload":
        from bench import upload as module  # type: ignore[no-redef]
    elif name == "load":
        from bench import load as module  # type: ignore[no-redef]
    elif name == "ocr":
        from bench import ocr as module  # type: ignore[no-redef]
    elif name == "project":
        from bench import project as module  # type: ignore[no-redef]
    elif name == "verify":
        from bench import verify as module  # type: ignore[no-redef]
    elif name == "ann_recall":
        from bench import ann_recall as module  # type: ignore[no-redef]
    elif name == "refusal":
        from bench import refusal as module  # type: ignore[no-redef]
    elif name == "milvus":
        from bench import milvus as module  # type: ignore[no-redef]
    else:
        from bench import packing as module  # type: ignore[no-redef]
    module.run(opts)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the chosen parts, write machine.json, run.json and the report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts: {','.join(PARTS)}")
    parser.add_argument("--quick", action="store_true", help="reduced smoke run (seconds, hashing embedder)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results folder (default bench/results)")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown part(s): {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    _isolate_settings()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    report_path = REPO / "bench" / "report.md" if out == DEFAULT_OUT.resolve() else out / "report.md"
    work = Path(tempfile.mkdtemp(prefix="kb-bench-"))
    opts = RunOptions(out=out, quick=args.quick, work=work)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    try:
        write_json(out / "machine.json", machine_info())
        for part in parts:
            print(f"[bench] {part} ...", flush=True)
            timings[part] = round(_run_part(part, opts), 1)
            print(f"[bench] {part} done in {timings[part]:.0f} s", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    previous = read_json(out / "run.json") or {}
    if previous.get("quick") == args.quick:  # a partial rerun keeps the other parts' timings
        timings = {**previous.get("part_seconds", {}), **timings}
    write_json(
        out / "run.json",
        {
            "command": "python bench/run.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "parts": parts,
            "quick": args.quick,
            "part_seconds": timings,
            "total_seconds": round(time.perf_counter() - started, 1),
            "finished_at": time.strftime("%Y-%m-%d %H:%M:%S"),
        },
    )
    from bench.report import write_report

    write_report(out, report_path)
    print(f"[bench] wrote {report_path} and {out}/*.json", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
