"""scripts/system_deps.sh, which ./test.sh and .ci/run call first: it installs the browser test's
system packages as root with apt-get, and otherwise says in one line what to install."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from conftest import REPO

SCRIPT = REPO / "scripts" / "system_deps.sh"
AS_ROOT = [] if os.geteuid() == 0 else ["unshare", "--map-root-user"]
NOT_ROOT = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []


def run(prefix: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, "bash", str(SCRIPT)],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_nothing_to_do_when_everything_is_there() -> None:
    done = run([])
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_without_apt_it_says_in_one_line_what_to_install(tmp_path: Path) -> None:
    stopped = run([], CHROMIUM=str(tmp_path / "chromium"), APT_GET=str(tmp_path / "no-apt-get"))
    assert stopped.returncode == 1
    assert stopped.stderr.splitlines() == [
        f"error: the tests need Chromium as {tmp_path / 'chromium'}: install them, then ./test.sh again"
    ]


def test_not_root_it_gives_the_apt_command_to_run() -> None:
    stopped = run(NOT_ROOT, CHROMIUM="/nonexistent/chromium", APT_GET="true")
    assert stopped.returncode == 1
    assert stopped.stderr.splitlines() == [
        "error: the tests need chromium: run  sudo apt-get install -y chromium  then ./test.sh again"
    ]


def test_as_root_it_installs_with_apt_get(tmp_path: Path) -> None:
    chromium, calls = tmp_path / "chromium", tmp_path / "calls"
    apt_get = tmp_path / "apt-get"  # the package manager is the edge: it records and "installs"
    apt_get.write_text(
        f'#!/bin/sh\necho "$*" >> {calls}\n'
        f'if [ "$1" = install ]; then printf "#!/bin/sh\\n" > {chromium}; chmod +x {chromium}; fi\n'
    )
    apt_get.chmod(0o755)
    installed = run(AS_ROOT, CHROMIUM=str(chromium), APT_GET=str(apt_get))
    assert installed.returncode == 0, installed.stderr
    assert calls.read_text().splitlines() == ["update -q", "install -y -q chromium"]
    assert run(AS_ROOT, CHROMIUM=str(chromium), APT_GET=str(apt_get)).returncode == 0
    assert len(calls.read_text().splitlines()) == 2  # present now: apt-get is not run again
