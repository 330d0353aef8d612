#!/usr/bin/env bash
# Set up (first run), lint, and run the whole test suite. Extra arguments go to pytest.
# System packages first (Chromium and CJK fonts for the browser test): installed as root with
# apt-get, otherwise one line says what to install (scripts/system_deps.sh).
set -euo pipefail
cd "$(dirname "$0")"
scripts/system_deps.sh
scripts/venv.sh requirements-dev.txt
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
