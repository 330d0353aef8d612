#!/usr/bin/env bash
# Set up (first run) and start the assistant on http://127.0.0.1:8501 with the default knowledge base.
# Only this machine can reach it. ./start.sh --share (or KBA_SHARE=1) listens on every address and
# asks everyone to sign in: add users first with `python -m rag users add NAME --role admin`.
set -euo pipefail
cd "$(dirname "$0")"
share="${KBA_SHARE:-0}"
args=()
for arg in "$@"; do
    if [ "$arg" = "--share" ]; then share=1; else args+=("$arg"); fi
done
scripts/venv.sh requirements.txt
address=127.0.0.1
case "${share,,}" in 1 | true | yes | on) share=1 ;; *) share=0 ;; esac
if [ "$share" = 1 ]; then
    .venv/bin/python -m rag users check || exit 1
    export KBA_SHARE=1
    address=0.0.0.0
    echo "sharing on the network: everyone signs in (python -m rag users list)" >&2
fi
.venv/bin/python -m ingest build --kb default --source data/sample --if-missing || {
    echo "building the default knowledge base failed; see the message above" >&2
    exit 1
}
exec .venv/bin/python -m streamlit run app.py --server.headless true --server.address "$address" ${args[@]+"${args[@]}"}
