"""Staging uploads: limits checked before writing, safe names, 1 MB blocks, honest per-file results."""

from __future__ import annotations

import io
import tomllib
from pathlib import Path

from ingest.pipeline import IngestReport, add_files
from ingest.uploads import BLOCK, report_summary, stage_uploads, upload_results
from rag.config import Settings

REPO = Path(__file__).resolve().parent.parent


class Unreadable(io.RawIOBase):
    """A stream that fails the test if anything reads it."""

    def read(self, size: int = -1) -> bytes:
        raise AssertionError("a rejected upload was read")


class Recording(io.BytesIO):
    """A stream that remembers how much each read asked for."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.asked: list[int] = []

    def read(self, size: int | None = -1) -> bytes:
        self.asked.append(-1 if size is None else size)
        return super().read(size)


def _one(name: str, data: bytes, size: int | None = None) -> tuple[str, int, io.BytesIO]:
    return name, len(data) if size is None else size, io.BytesIO(data)


def test_good_files_are_staged_under_their_names(tmp_path: Path) -> None:
    staged, rejected = stage_uploads([_one("笔记.md", b"# hi"), _one("a.TXT", b"x")], tmp_path / "in", 100)
    assert rejected == []
    assert [(f.name, f.path.read_bytes()) for f in staged] == [("笔记.md", b"# hi"), ("a.TXT", b"x")]
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == ["a.TXT", "笔记.md"]  # no temp files left


def test_path_tricks_stay_inside_the_staging_folder(tmp_path: Path) -> None:
    folder = tmp_path / "stage"
    staged, rejected = stage_uploads([_one("../../etc/passwd.txt", b"x"), _one("..\\..\\win.md", b"y")], folder, 100)
    assert rejected == []
    assert [f.name for f in staged] == ["passwd.txt", "win.md"]
    assert all(f.path.parent == folder for f in staged)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["passwd.txt", "win.md"]


def test_oversized_file_is_rejected_before_anything_is_read(tmp_path: Path) -> None:
    staged, rejected = stage_uploads([("big.pdf", 300 * 2**20, Unreadable())], tmp_path, 200 * 2**20)
    assert staged == []
    assert rejected == [("big.pdf", "file is 300.0 MB, over the 200.0 MB limit")]
    assert list(tmp_path.iterdir()) == []


def test_unsupported_type_and_bad_name_are_rejected_up_front(tmp_path: Path) -> None:
    staged, rejected = stage_uploads([("tool.exe", 5, Unreadable()), ("..", 1, Unreadable())], tmp_path, 100)
    assert staged == []
    assert "unsupported file type '.exe'" in rejected[0][1] and ".docx" in rejected[0][1]
    assert "invalid file name" in rejected[1][1]


def test_more_bytes_than_declared_stops_the_copy(tmp_path: Path) -> None:
    stream = Recording(b"x" * (3 * BLOCK))
    staged, rejected = stage_uploads([("liar.txt", 10, stream)], tmp_path, 100 * BLOCK)
    assert staged == [] and "more than the declared" in rejected[0][1]
    assert list(tmp_path.iterdir()) == []  # the partial copy is gone
    assert len(stream.asked) == 1  # stopped after the first block


def test_copies_in_one_megabyte_blocks(tmp_path: Path) -> None:
    data = b"a" * (2 * BLOCK + 5)
    stream = Recording(data)
    staged, _ = stage_uploads([("big.txt", len(data), stream)], tmp_path, 10 * BLOCK)
    assert staged[0].path.read_bytes() == data
    assert set(stream.asked) == {BLOCK} and len(stream.asked) == 4


def test_second_file_with_the_same_safe_name_is_rejected(tmp_path: Path) -> None:
    staged, rejected = stage_uploads([_one("a/x.md", b"1"), _one("b/x.md", b"2")], tmp_path, 100)
    assert [f.path.read_bytes() for f in staged] == [b"1"]
    assert rejected == [("b/x.md", "another file in this upload is also named 'x.md'")]


def test_results_table_and_summary_from_a_real_ingest(tmp_path: Path, settings: Settings) -> None:
    staged, rejected = stage_uploads(
        [_one("ok.md", "# 标题\n\n正文内容。".encode()), _one("empty.txt", b""), _one("x.exe", b"1")],
        tmp_path / "stage",
        100,
    )
    report = add_files(settings, "kb", staged)
    rows = upload_results(rejected, report)
    assert {(r["file"], r["result"]) for r in rows} == {
        ("x.exe", "失败 / failed"),
        ("ok.md", "已添加 / added"),
        ("empty.txt", "失败 / failed"),
    }
    again = add_files(settings, "kb", staged[:1])
    assert upload_results([], again) == [{"file": "ok.md", "result": "未变 / unchanged", "reason": ""}]
    assert "新增 1 added" in report_summary(report, len(rejected)) and "失败 2 failed" in report_summary(report, 1)


def test_summary_of_an_empty_report() -> None:
    assert report_summary(IngestReport()).startswith("新增 0 added")


def test_streamlit_upload_limit_matches_the_settings() -> None:
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == Settings.model_fields["max_file_mb"].default
    assert config["server"]["headless"] is True and config["browser"]["gatherUsageStats"] is False


def test_staging_left_by_a_dead_process_is_removed_and_live_ones_are_kept(tmp_path: Path) -> None:
    import subprocess
    import sys

    from ingest.uploads import new_staging_folder, remove_stale_uploads

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / ".uploads" / f"{dead.stdout.strip()}-abc"
    (stale / "big.txt").parent.mkdir(parents=True)
    (stale / "big.txt").write_bytes(b"x" * 1000)
    odd = tmp_path / ".uploads" / "not-a-pid"
    odd.mkdir()
    mine = new_staging_folder(tmp_path)
    mine.mkdir(parents=True)
    assert remove_stale_uploads(tmp_path) == 2
    assert [p.name for p in (tmp_path / ".uploads").iterdir()] == [mine.name]


def test_long_and_windows_reserved_upload_names_keep_their_extension(tmp_path: Path) -> None:
    from ingest.names import MAX_NAME_BYTES, safe_file_name

    long_name = "需求" * 150 + ".md"  # 300 characters, 903 bytes of UTF-8
    short = safe_file_name(long_name)
    assert short.endswith("~.md") and len(short.encode()) <= MAX_NAME_BYTES
    assert safe_file_name("CON") == "_CON" and safe_file_name("nul.txt") == "_nul.txt"
    assert safe_file_name("报告. . ") == "报告"
    staged, rejected = stage_uploads([(long_name, 3, io.BytesIO(b"abc"))], tmp_path / "s", 10)
    assert rejected == [] and staged[0].name == short
