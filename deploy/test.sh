#!/usr/bin/env bash
# The test command of the README and of CI: installs what the tests need (Python deps
# in .venv, Chromium for the browser tests), runs the linters, then every test.
# The Kafka broker is started by the test session itself (deploy/kafka/broker.sh),
# reused if one is already listening, and stopped again if the session started it.
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/install.sh test

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: installing Debian's chromium for the browser tests"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "test.sh: chromium is not installed; the browser tests will be skipped" >&2
  fi
fi

echo "test.sh: ruff"
.venv/bin/ruff check .
echo "test.sh: mypy"
.venv/bin/mypy
echo "test.sh: pytest"
set +e
.venv/bin/pytest "$@"
status=$?
set -e
# pytest exits 5 when no test was collected (e.g. a -k filter that matched nothing):
# say so plainly rather than report it as a crash.
if [ "$status" = 5 ]; then
  echo "test.sh: no tests were collected" >&2
  exit 0
fi
exit "$status"
