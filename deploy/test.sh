#!/usr/bin/env bash
# The test command of the README and of CI: installs what the tests need (Python deps
# in .venv, Chromium, Prometheus and Alertmanager from Debian), runs the linters, then every test.
# The Kafka broker is started by the test session itself (deploy/kafka/broker.sh),
# reused if one is already listening, and stopped again if the session started it.
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/install.sh test

# Debian packages the tests run for real: chromium (browser tests), prometheus (promtool
# and the server: rule tests, scrape test), prometheus-alertmanager (Alertmanager output).
# Their services are not started (policy-rc.d): the tests start their own on loopback.
missing=()
for need in chromium:chromium promtool:prometheus prometheus:prometheus \
  prometheus-alertmanager:prometheus-alertmanager; do
  command -v "${need%%:*}" >/dev/null 2>&1 || missing+=("${need#*:}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: installing Debian's ${missing[*]} for the tests"
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
      trap 'rm -f "$policy"' EXIT
    fi
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      $(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null
  else
    echo "test.sh: ${missing[*]} not installed; the tests needing them will be skipped" >&2
  fi
fi

# kubeconform checks deploy/k8s/ (schemas come offline from the kubernetes-validate
# package of the test extras); a Go program, built once into .venv/bin.
if [ ! -x .venv/bin/kubeconform ] && ! command -v kubeconform >/dev/null 2>&1; then
  go=$(command -v go || echo /usr/local/go/bin/go)
  if [ -x "$go" ]; then
    echo "test.sh: building kubeconform with go install"
    GOBIN="$PWD/.venv/bin" "$go" install github.com/yannh/kubeconform/cmd/kubeconform@v0.7.0
  else
    echo "test.sh: no Go toolchain; the kubeconform test will be skipped" >&2
  fi
fi

echo "test.sh: ruff"
.venv/bin/ruff check .
echo "test.sh: mypy"
.venv/bin/mypy
echo "test.sh: import layering (lint-imports)"
.venv/bin/lint-imports --no-cache
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
