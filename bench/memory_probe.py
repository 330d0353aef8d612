"""Run in a fresh process by bench/memory.py: resident memory of an app-like process, stage by stage.

    python -m bench.memory_probe DATA_DIR KB_NAME EMBEDDER QUESTIONS_FILE

Prints one JSON object: RSS (GB) after the imports, with the Assistant (extractive backend) and the
embedder loaded and idle, after the first question on the knowledge base, after the rest.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import psutil


def _rss_gb() -> float:
    return round(psutil.Process().memory_info().rss / 2**30, 3)


def _peak_gb() -> float | None:
    """VmHWM, the process's high-water mark (ru_maxrss would include the parent's memory before exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 2**20, 3)
    except (OSError, ValueError):
        pass
    return None


def main(argv: list[str]) -> int:
    """Probe and print the JSON."""
    data_dir, kb_name, embedder_spec, questions_file = argv
    stages: dict[str, float | None] = {"python": _rss_gb()}
    from ingest.embeddings import get_embedder
    from rag.chain import Assistant
    from rag.config import Settings

    stages["imports"] = _rss_gb()
    settings = Settings(data_dir=Path(data_dir), embedder=embedder_spec, llm_backend="extractive")
    assistant = Assistant(settings)
    get_embedder(settings.embedder).encode_query("预热")  # the app loads its embedder once at start
    stages["idle_app"] = _rss_gb()
    questions = [json.loads(line)["q"] for line in Path(questions_file).read_text(encoding="utf-8").splitlines()]
    first = assistant.ask(questions[0], [], kb_name)
    if first.error:
        raise SystemExit(f"probe question failed: {first.error}")
    stages["after_first_question"] = _rss_gb()
    for question in questions[1:]:
        assistant.ask(question, [], kb_name)
    stages["after_all_questions"] = _rss_gb()
    stages["peak"] = _peak_gb()
    print(json.dumps({"rss_gb": stages, "questions": len(questions), "backend": assistant.llm.label}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
