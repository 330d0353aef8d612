#!/usr/bin/env bash
# Set up (first run) and start the assistant on http://localhost:8501 with the default knowledge base.
set -euo pipefail
cd "$(dirname "$0")"
scripts/venv.sh requirements.txt
.venv/bin/python -m ingest build --kb default --source data/sample --if-missing || {
    echo "building the default knowledge base failed; see the message above" >&2
    exit 1
}
exec .venv/bin/python -m streamlit run app.py --server.headless true "$@"
