#!/usr/bin/env bash
# Set up (first run), lint, and run the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
scripts/venv.sh requirements-dev.txt
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
