#!/usr/bin/env bash
# Installs the project into .venv (created if missing). Shared by quickstart.sh and test.sh.
# Usage: deploy/install.sh [EXTRAS], e.g. deploy/install.sh test
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "install.sh: creating .venv with $("$python" --version)"
  "$python" -m venv .venv
fi
spec="."
[ -n "${1:-}" ] && spec=".[$1]"
echo "install.sh: installing $spec into .venv"
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e "$spec"
