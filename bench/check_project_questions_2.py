"""Checks the blind held-out set ``bench/project_questions_2.jsonl`` against the rules it was written to.

The set holds 60 Chinese questions on the two shared repositories (30 jieba, 30 click): 30 on code,
18 on docs, 12 on config; 30 paraphrase, 15 identifier, 15 literal. Every needle is 15-80
characters of one line, occurs verbatim in its ``file`` and in at most three files of its repository,
and no question is about generated model data.

Run ``python -m bench.check_project_questions_2``: it prints the counts, one line per broken rule,
and exits 1 if any rule is broken.
"""

from __future__ import annotations

import fnmatch
import json
import sys
from collections import Counter
from functools import lru_cache
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PROJECTS = BENCH.parent.parent / "shared" / "projects"
QUESTIONS = BENCH / "project_questions_2.jsonl"

FIELDS = {"q", "needles", "repo", "file", "kind", "style"}
EXPECTED_COUNTS = {
    "repo": {"jieba": 30, "click": 30},
    "kind": {"code": 30, "doc": 18, "config": 12},
    "style": {"paraphrase": 30, "identifier": 15, "literal": 15},
}
NEEDLES_PER_QUESTION = (1, 2)
NEEDLE_LENGTH = (15, 80)
MAX_FILES_PER_NEEDLE = 3
GENERATED = ("prob_*.py", "char_state_tab.py", "*.p")


@lru_cache(maxsize=4)
def repo_texts(repo: str) -> dict[str, str]:
    """Every file of ``repo`` as text (UTF-8, errors replaced), keyed by its path inside the repo."""
    root = PROJECTS / repo
    return {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8", errors="replace")
        for p in root.rglob("*")
        if p.is_file()
    }


def is_generated(file: str) -> bool:
    """Whether ``file`` is generated model data that questions must not be about."""
    name = file.rsplit("/", 1)[-1]
    return "lac_small/model_baseline/" in file or any(fnmatch.fnmatch(name, g) for g in GENERATED)


def row_errors(lineno: int, row: dict) -> list[str]:
    """The broken rules of one question row, each as a one-line reason."""
    where = f"line {lineno}"
    if set(row) != FIELDS:
        return [f"{where}: fields {sorted(row)} are not {sorted(FIELDS)}"]
    errors = []
    for field, allowed in EXPECTED_COUNTS.items():
        if row[field] not in allowed:
            errors.append(f"{where}: {field} {row[field]!r} is not one of {sorted(allowed)}")
    if errors:
        return errors
    if not isinstance(row["q"], str) or not row["q"].strip():
        errors.append(f"{where}: empty question")
    if is_generated(row["file"]):
        errors.append(f"{where}: {row['file']} is generated model data")
    texts = repo_texts(row["repo"])
    if row["file"] not in texts:
        return [*errors, f"{where}: {row['repo']}/{row['file']} does not exist"]
    needles = row["needles"]
    low, high = NEEDLES_PER_QUESTION
    if not isinstance(needles, list) or not low <= len(needles) <= high:
        return [*errors, f"{where}: needs {low}-{high} needles, has {needles!r}"]
    for needle in needles:
        if not NEEDLE_LENGTH[0] <= len(needle) <= NEEDLE_LENGTH[1] or "\n" in needle:
            errors.append(f"{where}: needle {needle!r} is not one line of {NEEDLE_LENGTH} characters")
        if needle not in texts[row["file"]]:
            errors.append(f"{where}: needle {needle!r} is not in {row['file']}")
        holders = [path for path, text in texts.items() if needle in text]
        if len(holders) > MAX_FILES_PER_NEEDLE:
            errors.append(f"{where}: needle {needle!r} is in {len(holders)} files")
    return errors


def check(path: Path = QUESTIONS) -> tuple[dict[str, Counter], list[str]]:
    """Counts per repo/kind/style and every broken rule of the question file at ``path``."""
    errors: list[str] = []
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(f"line {lineno}: not JSON ({exc.msg})")
            continue
        if not isinstance(row, dict):
            errors.append(f"line {lineno}: not a JSON object")
            continue
        errors.extend(row_errors(lineno, row))
        rows.append(row)
    counts = {field: Counter(row.get(field) for row in rows) for field in EXPECTED_COUNTS}
    counts["repo/kind"] = Counter(f"{row.get('repo')}/{row.get('kind')}" for row in rows)
    counts["repo/style"] = Counter(f"{row.get('repo')}/{row.get('style')}" for row in rows)
    for field, expected in EXPECTED_COUNTS.items():
        if dict(counts[field]) != expected:
            errors.append(f"{field} counts {dict(counts[field])} are not {expected}")
    if len(rows) != sum(EXPECTED_COUNTS["repo"].values()):
        errors.append(f"{len(rows)} questions, expected {sum(EXPECTED_COUNTS['repo'].values())}")
    return counts, errors


def main() -> int:
    """Print the counts and every broken rule; 0 when the file keeps all of them."""
    counts, errors = check()
    for field, counter in counts.items():
        print(f"{field}: " + ", ".join(f"{k} {v}" for k, v in sorted(counter.items())))
    for error in errors:
        print(error)
    print("all rules kept" if not errors else f"{len(errors)} broken rule(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
