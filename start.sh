#!/usr/bin/env bash
# Set up (first run) and start the assistant on http://127.0.0.1:8501 with the default knowledge base.
# Only this machine can reach it. ./start.sh --share (or KBA_SHARE=1) listens on every address and
# asks everyone to sign in: add users first with `python -m rag users add NAME --role admin`.
# The same as `kb app` once the package is installed (pip install -e .): rag/console.py does the work.
set -euo pipefail
cd "$(dirname "$0")"
scripts/venv.sh requirements.txt
exec .venv/bin/python -m rag.console app "$@"
