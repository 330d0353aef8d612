"""Both command lines as a person runs them: real subprocesses, exit codes, one-line errors."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from conftest import BOTH_BACKENDS, CORPUS, REPO, cli_env

from rag.config import Settings


def run(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=REPO, env=cli_env(settings), capture_output=True, text=True, timeout=120
    )


def test_build_list_stats_and_a_second_build_that_embeds_nothing(settings: Settings) -> None:
    first = run(settings, "ingest", "build", "--kb", "cli", "--source", str(CORPUS))
    assert first.returncode == 0, first.stderr
    assert f"added {len(list(CORPUS.iterdir()))}," in first.stdout
    listing = run(settings, "ingest", "list", "--kb", "cli")
    lines = listing.stdout.strip().splitlines()
    assert len(lines) == len(list(CORPUS.iterdir())) and all(" chunks\t" in line for line in lines)
    second = run(settings, "ingest", "build", "--kb", "cli", "--source", str(CORPUS))
    assert "embedded 0 chunks" in second.stdout and second.returncode == 0
    stats = run(settings, "ingest", "stats", "--kb", "cli").stdout
    assert "embedder: hashing-char12-512" in stats and "generation: 1" in stats
    assert run(settings, "ingest", "kbs").stdout.split() == ["cli"]
    again = run(settings, "ingest", "build", "--kb", "cli", "--source", str(CORPUS), "--if-missing")
    assert "exists; nothing to do" in again.stdout
    with sqlite3.connect(settings.kb_dir("cli") / "kb.sqlite") as db:  # as if an older version wrote it
        db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    upgraded = run(settings, "ingest", "build", "--kb", "cli", "--source", str(CORPUS), "--if-missing")
    assert upgraded.returncode == 0 and "rebuilt from its stored files" in upgraded.stdout
    relisted = run(settings, "ingest", "list", "--kb", "cli").stdout.strip().splitlines()
    assert [line.rsplit("\t", 1)[0] for line in relisted] == [line.rsplit("\t", 1)[0] for line in lines]


@BOTH_BACKENDS
def test_add_remove_rebuild(settings: Settings, tmp_path: Path) -> None:
    note = tmp_path / "note.md"
    note.write_text("# 笔记\n\n紫色长颈鹿住在命令行里。", encoding="utf-8")
    assert run(settings, "ingest", "add", "--kb", "cli", str(note)).returncode == 0
    assert "note.md" in run(settings, "ingest", "list", "--kb", "cli").stdout
    removed = run(settings, "ingest", "remove", "--kb", "cli", "note.md")
    assert "removed 1" in removed.stdout and removed.returncode == 0
    assert run(settings, "ingest", "add", "--kb", "cli", str(note)).returncode == 0
    rebuilt = run(settings, "ingest", "rebuild", "--kb", "cli")
    assert rebuilt.returncode == 0 and "added 1" in rebuilt.stdout


def test_failures_exit_non_zero_with_one_line_reasons(settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "bad.exe"
    bad.write_bytes(b"MZ\x00\x00")
    partial = run(settings, "ingest", "add", "--kb", "cli", str(bad), str(CORPUS / "emergence.md"))
    assert partial.returncode == 1 and "skipped bad.exe: file type '.exe' is not supported" in partial.stderr
    assert "added 1" in partial.stdout
    escape = run(settings, "ingest", "build", "--kb", "../etc", "--source", str(CORPUS))
    assert escape.returncode == 2 and escape.stderr.strip().startswith("error: invalid knowledge base name")
    assert len(escape.stderr.strip().splitlines()) == 1
    missing = run(settings, "ingest", "list", "--kb", "nope")
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    no_source = run(settings, "ingest", "build", "--kb", "x", "--source", str(tmp_path / "none"))
    assert no_source.returncode == 2 and "does not exist" in no_source.stderr


def test_help_reads_well(settings: Settings) -> None:
    helped = run(settings, "ingest", "--help")
    assert helped.returncode == 0
    for word in ("build", "add", "remove", "list", "stats", "rebuild", "examples:"):
        assert word in helped.stdout
    assert "recall@k" in run(settings, "rag", "--help").stdout


@BOTH_BACKENDS
def test_rag_eval_prints_recall_and_mrr(settings: Settings, tmp_path: Path) -> None:
    run(settings, "ingest", "build", "--kb", "cli", "--source", str(CORPUS))
    questions = tmp_path / "q.jsonl"
    rows = [
        {"q": "如何查看本机有哪些 conda 虚拟环境？", "needles": ["conda env list"]},
        {"q": "德鲁克谈动荡时代说了什么？", "needles": ["昨天的逻辑"]},
        {"q": "完全无关的问题 xyzzy", "needles": ["不存在的文本"]},
    ]
    questions.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    result = run(settings, "rag", "eval", "--kb", "cli", "--questions", str(questions), "--verbose")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[-1].startswith("recall@4=2/3 mrr@10=")
    assert sum(line.startswith("HIT") for line in lines) == 2 and lines[2].startswith("MISS")


@BOTH_BACKENDS
def test_rag_ask_streams_text_and_sources_or_json(settings: Settings) -> None:
    run(settings, "ingest", "build", "--kb", "cli", "--source", str(CORPUS))
    text = run(settings, "rag", "ask", "Self-Consistency 把 GSM8K 准确率提高到多少？", "--kb", "cli")
    assert text.returncode == 0 and "74.4%" in text.stdout and "sources:" in text.stdout
    as_json = run(settings, "rag", "ask", "Self-Consistency 把 GSM8K 准确率提高到多少？", "--kb", "cli", "--json")
    answer = json.loads(as_json.stdout)
    first = next(s for s in answer["sources"] if s["number"] == answer["cited"][0])
    assert first["path"] == "emergence.md" and first["cited"] and "74.4%" in first["text"]
    assert first["lines"] is None or len(first["lines"]) == 2
    assert {"symbol", "kind", "location", "score", "page"} <= set(first) and first["kind"] == "doc"
    empty = run(settings, "rag", "ask", "", "--kb", "cli")
    assert empty.returncode == 2 and "Please type a question" in empty.stderr


def test_both_clis_exit_2_with_one_line_for_a_missing_empty_or_unportable_kb_name(settings: Settings) -> None:
    for command in (["rag", "ask", "问题"], ["rag", "eval", "--questions", "x.jsonl"], ["ingest", "list"]):
        for kb, reason in (("nope", "does not exist"), ("", "name is empty"), ("CON", "Windows reserves it")):
            result = run(settings, *command, "--kb", kb)
            assert result.returncode == 2, (command, kb, result.stderr)
            assert result.stderr.count("\n") == 1 and reason in result.stderr, (command, kb, result.stderr)
