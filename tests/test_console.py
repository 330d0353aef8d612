"""The ``kb`` console command: in process, and installed for real (pip install -e . into a new
virtual environment, run from another folder with no PYTHONPATH)."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from conftest import CORPUS, REPO, cli_env

from rag import console
from rag.config import Settings


def test_usage_and_unknown_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert console.main([]) == 2
    assert "kb COMMAND" in capsys.readouterr().out
    assert console.main(["--help"]) == 0
    assert console.main(["nope"]) == 2
    assert "unknown command 'nope'" in capsys.readouterr().err
    assert console.main(["app", "--help"]) == 0
    assert "--share" in capsys.readouterr().out


def test_ingest_and_ask_go_to_their_command_lines(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in cli_env(settings).items():
        if name.startswith("KBA_"):
            monkeypatch.setenv(name, value)
    assert console.main(["ingest", "build", "--kb", "notes", "--source", str(CORPUS), "-q"]) == 0
    assert "added 4," in capsys.readouterr().out
    assert console.main(["ask", "Self-Consistency 方法把 GSM8K 准确率提高到多少？", "--kb", "notes"]) == 0
    assert "74.4%" in capsys.readouterr().out


def test_app_builds_the_default_kb_then_runs_streamlit_on_the_app(settings: Settings) -> None:
    started = console.app_command(["--server.port", "8600"], settings)
    assert not isinstance(started, int)
    line, environment = started
    assert line[:4] == [sys.executable, "-m", "streamlit", "run"] and Path(line[4]) == REPO / "app.py"
    assert line[-4:] == ["--server.address", "127.0.0.1", "--server.port", "8600"]
    assert (settings.kb_dir("default") / "kb.sqlite").exists()
    assert "KBA_SHARE" not in environment


def test_shared_app_without_users_does_not_start(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert console.app_command(["--share"], settings) == 1
    assert "users add" in capsys.readouterr().err


@pytest.mark.slow
def test_installed_kb_command_works_from_any_folder(settings: Settings, tmp_path: Path) -> None:
    """A new venv gets only our package (--no-deps); the dependencies are this venv's, reached by a
    .pth file, so nothing of the checkout is importable unless the install put it there."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(site) / "dependencies.pth").write_text(str(Path(sysconfig.get_paths()["purelib"]).resolve()) + "\n")
    pip = [sys.executable, "-m", "pip", "--python", str(python), "--disable-pip-version-check"]
    install = subprocess.run(
        [*pip, "install", "-q", "--no-deps", "--no-build-isolation", "-e", str(REPO)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    checked = subprocess.run([*pip, "check"], capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout  # every dependency in requirements.txt is there
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in cli_env(settings).items() if k != "PYTHONPATH"}

    def kb(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [venv / "bin" / "kb", *args], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120
        )

    built = kb("ingest", "build", "--kb", "notes", "--source", str(CORPUS), "-q")
    assert built.returncode == 0, built.stderr
    asked = kb("ask", "Self-Consistency 方法把 GSM8K 准确率提高到多少？", "--kb", "notes")
    assert asked.returncode == 0 and "74.4%" in asked.stdout, asked.stderr
    defaults = subprocess.run(
        [python, "-c", "from rag.config import Settings; s = Settings(); print(s.data_dir, s.sample_docs_dir)"],
        cwd=elsewhere,
        env={"PATH": env["PATH"]},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert defaults.stdout.split() == [str(REPO / "data" / "kb"), str(REPO / "data" / "sample")], defaults.stderr
