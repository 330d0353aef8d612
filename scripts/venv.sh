#!/usr/bin/env bash
# Create .venv and install a requirements file into it, once per change of that file.
# Usage: scripts/venv.sh requirements.txt
set -euo pipefail
cd "$(dirname "$0")/.."
requirements=${1:-requirements.txt}
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
stamp=".venv/.installed-$(basename "$requirements")"
digest=$(cat "$requirements" requirements.txt | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$digest" ]; then
    echo "Installing $requirements into .venv (first run takes a few minutes) ..."
    .venv/bin/python -m pip install --disable-pip-version-check -q -r "$requirements"
    echo "$digest" > "$stamp"
fi
