#!/usr/bin/env bash
# The system packages the test suite needs beyond Python 3.11, for ./test.sh and .ci/run:
# Debian's Chromium (the end-to-end browser test drives /usr/bin/chromium through Playwright), CJK
# fonts (Chinese in that browser) and, before .venv exists, Python's venv module (python3-venv).
# Installs what is missing with apt-get when run as root; otherwise prints one line saying exactly
# what to install and exits 1. CHROMIUM and APT_GET name other paths (the tests use them).
set -euo pipefail
chromium=${CHROMIUM:-/usr/bin/chromium}
apt_get=${APT_GET:-apt-get}
python=${PYTHON:-python3}
venv_dir="$(dirname "$0")/../.venv"

detect() {
    missing=()   # Debian package names
    described=() # the same in words, for a system without apt-get
    if [ ! -x "$chromium" ]; then
        missing+=(chromium)
        described+=("Chromium as $chromium")
    fi
    if ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK" &&
        ! find /usr/share/fonts -iname "NotoSansCJK*" -print -quit 2>/dev/null | grep -q .; then
        missing+=(fonts-noto-cjk)
        described+=("the Noto Sans CJK fonts")
    fi
    if [ ! -x "$venv_dir/bin/python" ] && ! "$python" -c "import ensurepip" 2>/dev/null; then
        missing+=(python3-venv)
        described+=("the venv module of $python")
    fi
}

detect
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v "$apt_get" >/dev/null 2>&1; then
    echo "installing ${missing[*]} with apt-get ..." >&2
    "$apt_get" update -q
    DEBIAN_FRONTEND=noninteractive "$apt_get" install -y -q "${missing[@]}"
    detect
    [ ${#missing[@]} -eq 0 ] && exit 0
    echo "error: apt-get ran, but ${missing[*]} still missing" >&2
elif command -v "$apt_get" >/dev/null 2>&1; then
    echo "error: the tests need ${missing[*]}: run  sudo apt-get install -y ${missing[*]}  then ./test.sh again" >&2
else
    words=$(printf '%s, ' "${described[@]}")
    echo "error: the tests need ${words%, }: install them, then ./test.sh again" >&2
fi
exit 1
