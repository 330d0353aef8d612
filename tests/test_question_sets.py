"""The hand-written evaluation sets obey their rules, and the checker reports rows that break them."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from bench.check_questions import (
    CHOOSING_QUESTIONS,
    HELDOUT_QUESTIONS,
    PROJECT_QUESTIONS,
    UNANSWERABLE_QUESTIONS,
    check_choosing_questions,
    check_heldout_questions,
    check_project_questions,
    check_unanswerable_questions,
)
from bench.refusal_data import load_labelled, missing_needles

SHARED = Path(__file__).resolve().parents[2] / "shared"


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def test_project_questions_pass_every_rule() -> None:
    assert check_project_questions(PROJECT_QUESTIONS, SHARED) == []


def test_second_choosing_set_passes_every_rule() -> None:
    assert check_choosing_questions(CHOOSING_QUESTIONS, SHARED) == []


def test_second_choosing_set_needles_must_be_verbatim(tmp_path: Path) -> None:
    rows = _rows(CHOOSING_QUESTIONS)
    rows[2]["needles"] = [rows[2]["needles"][0] + " (not in the file)"]

    errors = check_choosing_questions(_write(tmp_path / "q.jsonl", rows), SHARED)

    assert errors == [f"q.jsonl:3: needle {rows[2]['needles'][0]!r} not found in {rows[2]['repo']}/{rows[2]['file']}"]


def test_heldout_project_questions_pass_every_rule() -> None:
    assert check_heldout_questions(HELDOUT_QUESTIONS, SHARED) == []


def test_heldout_counts_and_needle_lengths_are_enforced(tmp_path: Path) -> None:
    rows = _rows(HELDOUT_QUESTIONS)
    rows[0]["style"] = "literal" if rows[0]["style"] != "literal" else "paraphrase"
    rows[1]["needles"] = [rows[1]["needles"][0][:10]]  # a verbatim piece, but shorter than 15 characters

    errors = check_heldout_questions(_write(tmp_path / "q.jsonl", rows), SHARED)

    assert any("style counts" in error for error in errors)
    assert any(":2: needle" in error and "characters, not (15, 80)" in error for error in errors)


def test_unanswerable_questions_pass_every_rule() -> None:
    assert check_unanswerable_questions(UNANSWERABLE_QUESTIONS) == []


def test_a_needle_missing_from_its_file_is_reported(tmp_path: Path) -> None:
    rows = _rows(PROJECT_QUESTIONS)
    rows[0]["needles"] = ["this text is in no file at all"]

    errors = check_project_questions(_write(tmp_path / "q.jsonl", rows), SHARED)

    assert any(":1: needle 'this text is in no file at all' not found" in error for error in errors)


def test_a_needle_common_to_many_files_is_reported(tmp_path: Path) -> None:
    rows = _rows(PROJECT_QUESTIONS)
    index = next(i for i, row in enumerate(rows) if row["file"] == "src/click/core.py")
    rows[index]["needles"] = ["from __future__ import annotations"]

    errors = check_project_questions(_write(tmp_path / "q.jsonl", rows), SHARED)

    assert any(f":{index + 1}: needle" in error and "files of click" in error for error in errors)


def test_wrong_kind_and_too_few_paraphrases_are_reported(tmp_path: Path) -> None:
    rows = _rows(PROJECT_QUESTIONS)
    rows[0]["kind"] = "doc"
    for row in rows:
        row["style"] = "literal"

    errors = check_project_questions(_write(tmp_path / "q.jsonl", rows), SHARED)

    assert any(":1: kind 'doc' does not fit jieba/__init__.py" in error for error in errors)
    assert any("paraphrase share 0.00" in error for error in errors)


def test_too_few_near_questions_and_bad_fields_are_reported(tmp_path: Path) -> None:
    rows = _rows(UNANSWERABLE_QUESTIONS)
    for row in rows:
        row["near"] = False
    rows[1]["why"] = "two\nlines"
    rows[2]["extra"] = 1

    errors = check_unanswerable_questions(_write(tmp_path / "u.jsonl", rows))

    assert "u.jsonl: 0 near questions, fewer than 25" in errors
    assert "u.jsonl:2: why must be one non-empty line" in errors
    assert any(error.startswith("u.jsonl:3: fields must be exactly") for error in errors)


def test_the_english_refusal_sets_hold_their_needles_and_split_in_halves() -> None:
    questions = load_labelled()
    assert missing_needles(questions) == []
    english = [q for q in questions if q.set == "en"]
    for group, least in (("answerable", 60), ("near", 20), ("far", 20)):
        halves = [sum(q.group == group and q.half == h for q in english) for h in ("calibration", "held_out")]
        assert sum(halves) >= least and abs(halves[0] - halves[1]) <= 1, (group, halves)


def test_a_needle_missing_from_its_knowledge_base_is_reported() -> None:
    question = next(q for q in load_labelled() if q.set == "en" and q.group == "answerable")
    broken = replace(question, needles=("in no guide at all",))
    assert missing_needles([broken]) == [f"{question.q!r}: none of ['in no guide at all'] in {question.kb}"]
