"""Faults found by using the product as a hostile user would, each through the real command line.

A crash right after a commit, a missing original, a damaged FAISS file, a symlink loop, a read-only
knowledge base, library warnings on stderr, terminal escapes in documents: nothing is lost, nothing
is silently wrong, every failure is one line and the right exit code.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import CORPUS, REPO, cli_env

from rag.config import Settings

# Kills the process at its first file replacement after a COMMIT reached SQLite: "killed right after
# the commit", wherever the code puts its post-commit work.
CRASH_AFTER_COMMIT = """
import os, sqlite3, sys
committed = []
real_connect, real_replace = sqlite3.connect, os.replace
def connect(*args, **kwargs):
    db = real_connect(*args, **kwargs)
    db.set_trace_callback(lambda sql: committed.append(1) if sql.strip().upper() == "COMMIT" else None)
    return db
def replace(source, target):
    if committed:
        os._exit(9)
    return real_replace(source, target)
sqlite3.connect, os.replace = connect, replace
from ingest.__main__ import run
sys.exit(run(sys.argv[1:]))
"""

NOTE = "# 发布手册\n\n蓝鲸项目的发布窗口是每周四下午三点，发布前需要值班经理签字。\n"


def cli(settings: Settings, *args: str, code: str | None = None, **kw: object) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", code, *args[1:]] if code else [sys.executable, "-m", *args]
    return subprocess.run(command, cwd=REPO, env=cli_env(settings), capture_output=True, text=True, timeout=180, **kw)


def listed(settings: Settings, kb: str) -> dict[str, int]:
    out = cli(settings, "ingest", "list", "--kb", kb).stdout
    return {line.split("\t")[0]: int(line.split("\t")[1].split()[0]) for line in out.strip().splitlines()}


@pytest.fixture
def note(tmp_path: Path) -> Path:
    path = tmp_path / "release.md"
    path.write_text(NOTE, encoding="utf-8")
    return path


def test_a_crash_right_after_the_commit_loses_no_original(settings: Settings, note: Path) -> None:
    assert cli(settings, "ingest", "build", "--kb", "k", "--source", str(CORPUS)).returncode == 0
    crashed = cli(settings, "ingest", "add", "--kb", "k", str(note), code=CRASH_AFTER_COMMIT)
    assert crashed.returncode == 9, crashed.stderr
    assert "release.md" in listed(settings, "k")  # committed before the crash
    rebuilt = cli(settings, "ingest", "rebuild", "--kb", "k")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert listed(settings, "k").get("release.md", 0) > 0  # rebuilt from its original, not dropped


def test_a_rebuild_that_cannot_find_an_original_says_so_and_keeps_the_document(settings: Settings, note: Path) -> None:
    assert cli(settings, "ingest", "add", "--kb", "k", str(note), str(CORPUS / "emergence.md")).returncode == 0
    files = settings.kb_dir("k") / "files"
    [stored] = [p for p in files.rglob("*") if p.is_file() and p.read_bytes() == note.read_bytes()]
    stored.unlink()
    rebuilt = cli(settings, "ingest", "rebuild", "--kb", "k")
    assert rebuilt.returncode == 1
    assert "release.md" in rebuilt.stderr and "missing" in rebuilt.stderr
    assert listed(settings, "k").get("release.md", 0) > 0 and "emergence.md" in listed(settings, "k")
    asked = cli(settings, "rag", "ask", "蓝鲸项目的发布窗口是什么时候？", "--kb", "k")
    assert "每周四下午三点" in asked.stdout  # still answerable from its stored chunks


def test_a_damaged_faiss_file_is_not_trusted(settings: Settings) -> None:
    dense = settings.model_copy(update={"retrieval_mode": "dense"})
    assert cli(dense, "ingest", "build", "--kb", "k", "--source", str(CORPUS)).returncode == 0
    question = "Self-Consistency 把 GSM8K 准确率提高到多少？"
    env = cli_env(dense) | {"KBA_RETRIEVAL_MODE": "dense"}
    ask = [sys.executable, "-m", "rag", "ask", question, "--kb", "k"]
    before = subprocess.run(ask, cwd=REPO, env=env, capture_output=True, text=True, timeout=120).stdout
    [index_file] = [p for p in settings.kb_dir("k").glob("vectors-*.faiss")]
    import faiss

    windows = faiss.read_index(str(index_file)).ntotal
    data = bytearray(index_file.read_bytes())
    start = 256  # the vectors are overwritten; header and id map kept, so the file still loads
    count = (len(data) - 8 * windows - 64 - start) // 4
    data[start : start + 4 * count] = np.random.default_rng(7).standard_normal(count).astype(np.float32).tobytes()
    index_file.write_bytes(bytes(data))
    assert faiss.read_index(str(index_file)).ntotal == windows
    after = subprocess.run(ask, cwd=REPO, env=env, capture_output=True, text=True, timeout=120).stdout

    def first_source(output: str) -> str:
        return output.split("sources:")[1].strip().splitlines()[0] if "sources:" in output else ""

    assert "74.4%" in before and first_source(after) == first_source(before)


def test_a_symlink_loop_fails_alone_and_the_other_files_are_added(
    settings: Settings, tmp_path: Path, note: Path
) -> None:
    loop = tmp_path / "x.txt"
    loop.symlink_to(loop)
    result = cli(settings, "ingest", "add", "--kb", "k", str(loop), str(note))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "skipped x.txt:" in result.stderr and "added 1" in result.stdout
    assert "release.md" in listed(settings, "k")


def _without_dac_override() -> None:
    """In the child, before exec: root loses the capability that lets it write where permission
    bits forbid it (PR_CAPBSET_DROP of CAP_DAC_OVERRIDE), so a read-only folder is read-only."""
    import ctypes

    if os.geteuid() == 0 and ctypes.CDLL(None, use_errno=True).prctl(24, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE) failed")


@pytest.fixture
def read_only_kb(settings: Settings, note: Path) -> Iterator[Settings]:
    """A built knowledge base whose folders and files are read-only (for root too, see above)."""
    assert cli(settings, "ingest", "add", "--kb", "k", str(note)).returncode == 0
    shutil.rmtree(settings.data_dir / ".locks", ignore_errors=True)
    shutil.rmtree(settings.data_dir / ".logs", ignore_errors=True)
    for path in [settings.data_dir, *settings.data_dir.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    yield settings
    for path in [settings.data_dir, *settings.data_dir.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def test_a_read_only_knowledge_base_can_be_listed_and_asked_and_says_read_only_to_writers(
    read_only_kb: Settings, note: Path
) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", *args],
            cwd=REPO,
            env=cli_env(read_only_kb),
            capture_output=True,
            text=True,
            timeout=120,
            preexec_fn=_without_dac_override,
        )

    probe = subprocess.run(
        [sys.executable, "-c", f"open({str(read_only_kb.data_dir / 'probe')!r}, 'w')"],
        capture_output=True,
        text=True,
        preexec_fn=_without_dac_override,
    )
    assert "PermissionError" in probe.stderr  # the premise: these commands really cannot write there
    listing = run("ingest", "list", "--kb", "k")
    assert listing.returncode == 0 and "release.md" in listing.stdout, listing.stderr
    asked = run("rag", "ask", "蓝鲸项目的发布窗口是什么时候？", "--kb", "k")
    assert asked.returncode == 0 and "每周四下午三点" in asked.stdout, asked.stderr
    for change in (["ingest", "add", "--kb", "k", str(note)], ["ingest", "rebuild", "--kb", "k"]):
        refused = run(*change)
        assert refused.returncode == 2 and "read-only" in refused.stderr and "Traceback" not in refused.stderr
    assert sorted(p.name for p in read_only_kb.data_dir.iterdir()) == ["k"]  # no .retired or staging left


def test_library_warnings_stay_out_of_the_output(settings: Settings, tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.pdf"
    damaged.write_bytes(b"garbage before the header %PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n")
    result = cli(settings, "ingest", "add", "--kb", "k", str(damaged))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("skipped damaged.pdf: "), result.stderr


def test_a_model_cannot_drive_the_terminal(settings: Settings, note: Path) -> None:
    from tests.fake_openai_server import FakeOpenAIServer

    cli(settings, "ingest", "add", "--kb", "k", str(note))
    pieces = ["发布窗口是每周四", "\x1b]0;pwned\x07", "\x1b[2J", "\x9b31m [1]。"]
    with FakeOpenAIServer(pieces=pieces) as server:
        env = cli_env(settings) | {"KBA_OPENAI_BASE_URL": server.base_url}
        asked = subprocess.run(
            [sys.executable, "-m", "rag", "ask", "蓝鲸项目的发布窗口是什么时候？", "--kb", "k"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert "发布窗口是每周四" in asked.stdout and "release.md" in asked.stdout
    assert not any(ch in asked.stdout + asked.stderr for ch in "\x1b\x07\x9b")
