"""Part 11, a whole project as a knowledge base: ingest of real repositories and questions about them.

Projects: /shared/projects/jieba (Chinese docs and Python) and click (English docs and Python), and
for the bench's own questions also two packages of the virtual environment (filelock, httpx),
copied into a scratch folder and built with ``build_from_folder`` as a user would.

Baseline in the same run, "everything read as prose" (the behaviour before code ingestion): every
text file the project build takes is copied with ``.txt`` appended and built the same way, so the
prose splitter cuts it; it uses the same keyword tokenizer (identifier terms) as the shipped
build, so the baseline is, if anything, stronger than the code it stands for.

Questions: ../shared/eval/project_dev_questions.jsonl (16, over jieba + click),
bench/project_questions.jsonl (78 written blind, over all four) with bench/project_questions_3.jsonl
(59 more written blind later, over all four): the bench's questions, on which settings are chosen, and
bench/project_questions_2.jsonl (60 written blind later over jieba + click, held out: no setting was
chosen on it), each with kind
(code/doc/config) and style (literal/paraphrase/identifier). A hit is a needle inside a ranked chunk (rag.eval).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.cache import cached_embedders
from bench.common import REPO, SHARED, RunOptions, load_average, stopwatch, write_json
from ingest import pipeline
from ingest.embeddings import get_embedder
from rag.config import Settings
from rag.eval import EvalQuestion, evaluate
from rag.retrieve import Retriever

PROJECTS = SHARED / "projects"
DEV = SHARED / "eval" / "project_dev_questions.jsonl"
BENCH = (REPO / "bench" / "project_questions.jsonl", REPO / "bench" / "project_questions_3.jsonl")
HELDOUT = REPO / "bench" / "project_questions_2.jsonl"  # written blind later, never used to choose a setting
PACKAGES = ("filelock", "httpx")
KEYWORD_WEIGHTS = (0.3, 0.4, 0.5, 0.6, 0.7)
CODE_SHARES = (0.3, 0.5, 0.6, 0.8, 1.0)  # beside the shipped code_keyword_share


def _questions(*paths: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line) for path in paths for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


QUICK_FILES = ("jieba/README.md", "jieba/jieba/__init__.py", "jieba/setup.py", "click/src/click/core.py")


def _assemble(folder: Path, with_packages: bool, quick: bool = False) -> Path:
    """jieba/ and click/ (and the packages) side by side, as one project folder (a few files: quick)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name in QUICK_FILES if quick else ("jieba", "click"):
        if quick:
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(PROJECTS / name, folder / name)
            continue
        shutil.copytree(PROJECTS / name, folder / name, symlinks=True)
    if with_packages:
        for name in PACKAGES:
            spec = importlib.util.find_spec(name)
            assert spec is not None and spec.origin is not None, name
            shutil.copytree(Path(spec.origin).parent, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def _as_prose(settings: Settings, source: Path, folder: Path) -> Path:
    """The baseline: every file the project build takes, renamed to .txt (read as prose)."""
    shutil.rmtree(folder, ignore_errors=True)
    for incoming in pipeline.scan_folder(settings, source).files:
        if incoming.path.suffix.lower() in {".pdf", ".docx", ".pptx", ".xlsx", ".png", ".jpg", ".jpeg"}:
            continue
        target = folder / f"{incoming.name}.txt"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(incoming.path, target)
    return folder


def _build(settings: Settings, kb: str, source: Path) -> dict[str, Any]:
    events: dict[str, list[float]] = {}
    started = time.perf_counter()

    def progress(stage: str, done: int, total: int, detail: str = "") -> None:
        events.setdefault(stage, []).append(time.perf_counter() - started)

    with stopwatch() as took:
        report = pipeline.build_from_folder(settings, kb, source, progress)
    store = pipeline.open_kb(settings, kb)
    stats = store.stats()
    kinds = Counter(c.kind for d in store.documents() for c in store.chunks_of(d.name))
    store.close()
    stages = sorted(events, key=lambda s: events[s][0])
    bounds = [events[s][0] for s in stages] + [took[0]]
    return {
        "seconds": round(took[0], 1),
        "stage_seconds": {s: round(bounds[i + 1] - bounds[i], 1) for i, s in enumerate(stages)},
        "files_ingested": len(report.added) + len(report.updated),
        "files_failed": len(report.failed),
        "failed": report.failed[:20],
        "skipped_by_reason": dict(Counter(s.reason for s in report.skipped).most_common()),
        "documents_by_type": dict(Counter(Path(n).suffix or Path(n).name for n in report.added).most_common(12)),
        "chunks_by_kind": dict(kinds),
        "chunks": stats["chunks"],
        "passages": stats["passages"],
        "windows": stats["windows"],
    }


def _metrics(ranks: list[int | None]) -> dict[str, float]:
    n = max(len(ranks), 1)
    out: dict[str, float] = {f"recall@{k}": round(sum(1 for r in ranks if r and r <= k) / n, 4) for k in (1, 4, 10)}
    out["hits@4"] = sum(1 for r in ranks if r and r <= 4)
    out["mrr@10"] = round(sum(1 / r for r in ranks if r) / n, 4)
    out["n"] = len(ranks)
    return out


def _score(settings: Settings, kb: str, questions: list[dict[str, Any]], **retrieval: Any) -> dict[str, Any]:
    configured = settings.model_copy(update=retrieval)
    store = pipeline.open_kb(configured, kb)
    try:
        embedder = get_embedder(configured.embedder) if configured.retrieval_mode != "keyword" else None
        asked = [EvalQuestion(q["q"], q["needles"]) for q in questions]
        ranks = [r.rank for r in evaluate(Retriever(store, embedder, configured), asked, 4).results]
    finally:
        store.close()
    split: dict[str, Any] = {"all": _metrics(ranks)}
    for field in ("kind", "style"):
        for value in sorted({q[field] for q in questions}):
            split[f"{field}={value}"] = _metrics(
                [r for r, q in zip(ranks, questions, strict=True) if q[field] == value]
            )
    return {"retrieval": retrieval, "sets": split, "ranks": ranks}


def _grid(quick: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [{"retrieval_mode": "keyword"}, {"retrieval_mode": "dense"}]
    weights = (0.4,) if quick else KEYWORD_WEIGHTS
    rows += [{"retrieval_mode": "hybrid", "keyword_weight": w, "dense_weight": round(1 - w, 2)} for w in weights]
    if not quick:  # the shipped weights with code chunks weighted otherwise (0.4: as prose)
        rows += [{"retrieval_mode": "hybrid", "code_keyword_share": share} for share in CODE_SHARES]
        rows.append({"retrieval_mode": "hybrid", "quoted_text_share": 0.0})
        rows.append({"retrieval_mode": "hybrid", "code_query_in_english": False})
        rows.append({"retrieval_mode": "hybrid", "code_query_in_english": False, "code_keyword_share": 0.8})
    return rows


def run(opts: RunOptions) -> dict[str, Any]:
    """Build the projects as shipped and as prose, evaluate every setting; writes project.json."""
    spec = "hashing" if opts.quick else Settings().embedder
    data = opts.work / "project"
    settings = Settings(data_dir=data / "kb", embedder=spec)
    dev, bench, heldout = _questions(DEV), _questions(*BENCH), _questions(HELDOUT)
    if opts.quick:
        dev, bench, heldout = dev[:4], bench[:6], heldout[:4]
    started_load = load_average()
    result: dict[str, Any] = {
        "quick": opts.quick,
        "embedder": spec,
        "code_keyword_share": settings.code_keyword_share,
        "questions": {"dev": len(dev), "bench": len(bench), "heldout": len(heldout)},
    }
    with cached_embedders([] if spec == "hashing" else [spec]), stopwatch() as total:
        two = _assemble(data / "src-two", with_packages=False, quick=opts.quick)
        four = _assemble(data / "src-four", with_packages=not opts.quick, quick=opts.quick)
        builds = {
            "shipped_two": _build(settings, "two", two),
            "prose_two": _build(settings, "prose_two", _as_prose(settings, two, data / "prose-two")),
            "shipped_four": _build(settings, "four", four),
            "prose_four": _build(settings, "prose_four", _as_prose(settings, four, data / "prose-four")),
        }
        rows = []
        for build, kb, questions, label in (
            ("shipped", "two", dev, "dev"),
            ("prose", "prose_two", dev, "dev"),
            ("shipped", "four", bench, "bench"),
            ("prose", "prose_four", bench, "bench"),
            ("shipped", "two", heldout, "heldout"),
            ("prose", "prose_two", heldout, "heldout"),
        ):
            for retrieval in _grid(opts.quick):
                rows.append({"build": build, "questions": label, **_score(settings, kb, questions, **retrieval)})
            shipped = _score(settings, kb, questions)  # Settings() as shipped, no override
            rows.append({"build": build, "questions": label, "shipped_defaults": True, **shipped})
    result |= {
        "builds": builds,
        "rows": rows,
        "question_texts": {"dev": [q["q"] for q in dev], "bench": [q["q"] for q in bench]}
        | {"heldout": [q["q"] for q in heldout]},
        "seconds": round(total[0], 1),
        "load_average": {"start": started_load, "end": load_average()},
    }
    shutil.rmtree(data, ignore_errors=True)
    write_json(opts.out / "project.json", result)
    return result
