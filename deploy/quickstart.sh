#!/usr/bin/env bash
# The README's first command: install, start the local Kafka broker, run the worker and
# publish simulated traffic, so the dashboard and /metrics fill up: eight days of
# realistic history first (about 66,000 records, published in seconds), so expectations
# and statuses show at once, then each minute as it ends. Ctrl-C stops the worker and
# the simulator; the broker keeps running (deploy/kafka/broker.sh stop).
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/install.sh
deploy/kafka/broker.sh start
set -a
# shellcheck disable=SC1091
[ -f .env ] && . ./.env
set +a
port="${DETECTOR_WEB_PORT:-6066}"
mkdir -p .detector-data
# The dashboard needs a login: the first run creates the admin and prints its password once.
if ! .venv/bin/detector users list | grep -q .; then
  .venv/bin/detector users add admin --role admin --generate |
    sed 's/^/quickstart: /; s/password (shown once)/dashboard user "admin", password (shown once)/'
fi
.venv/bin/detector worker --quiet >.detector-data/worker.log 2>&1 &
worker=$!
trap 'kill $worker 2>/dev/null; wait $worker 2>/dev/null; echo "quickstart: worker stopped; the broker still runs: deploy/kafka/broker.sh stop"' EXIT
echo "quickstart: worker started (pid $worker, log .detector-data/worker.log)"
echo "quickstart: dashboard http://127.0.0.1:$port/   metrics http://127.0.0.1:$port/metrics"
echo "quickstart: status changes: .venv/bin/detector watch"
echo "quickstart: Ctrl-C stops the worker and the simulator; the broker keeps running (deploy/kafka/broker.sh stop)"
.venv/bin/detector simulate
