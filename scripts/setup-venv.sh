#!/usr/bin/env bash
# Creates the engine's virtual environment (engine/.venv) with torch and the engine installed in
# editable mode. Re-running is cheap: it reinstalls only when engine/pyproject.toml changed.
# usage: scripts/setup-venv.sh [EXTRAS]   (default: test,hf — what the tests need)
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-test,hf}"
venv=engine/.venv
stamp="$venv/.installed-$(sha256sum engine/pyproject.toml | cut -c1-16)-${extras//,/_}"
if [ -f "$stamp" ]; then exit 0; fi
py="${PYTHON:-python3}"
if ! command -v "$py" >/dev/null; then
  echo "setup-venv: $py not found; install Python 3.10+ (Debian: apt-get install -y python3 python3-venv)" >&2
  exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
  "$py" -m venv "$venv" || { echo "setup-venv: could not create $venv; on Debian install python3-venv" >&2; exit 1; }
fi
"$venv/bin/python" -m pip install -q --upgrade pip
echo "setup-venv: installing torch and the engine into $venv (the torch wheel is large; first run takes a few minutes)" >&2
"$venv/bin/python" -m pip install -q -e "engine[$extras]"
rm -f "$venv"/.installed-*
touch "$stamp"
