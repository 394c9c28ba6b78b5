#!/usr/bin/env bash
# What the operator console's browser tests (tests/browser, marker `browser`) need, on its
# own: Debian's Chromium, driven by Playwright for Python from the project's .venv.
# Playwright never downloads a browser here; the tests launch /usr/bin/chromium by path.
# `make test` gets the same through scripts/bootstrap.sh; this is for a machine that only
# wants to run or debug the browser tests. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "[install_browser] $*"; }

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing chromium"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends chromium >/dev/null
  else
    echo "Chromium is missing. Install it as root:  sudo apt-get install -y chromium" >&2
    exit 1
  fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
if ! .venv/bin/python -c 'import playwright' >/dev/null 2>&1; then
  say "installing Playwright (pinned in requirements.txt)"
  .venv/bin/pip install -q "$(grep -E '^greenlet==' requirements.txt)" "$(grep -E '^playwright==' requirements.txt)"
fi

say "$(chromium --version 2>/dev/null || echo chromium) with playwright $(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("playwright"))')"
say "run: source scripts/env.sh && python -m pytest -m browser"
