#!/usr/bin/env bash
# One way to run the local single-node Kafka broker (KRaft, 127.0.0.1), shared by the
# README, the tests and CI.
#
#   deploy/kafka/broker.sh start    start it in the background (or reuse one already listening)
#   deploy/kafka/broker.sh stop     stop the broker this script started
#   deploy/kafka/broker.sh status   say whether a broker is listening
#   deploy/kafka/broker.sh run      run it in the foreground
#
# Settings (environment): KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093),
# KAFKA_DATA_DIR (<repo>/.kafka), KAFKA_HEAP (512m).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
port="${KAFKA_PORT:-9092}"
cport="${KAFKA_CONTROLLER_PORT:-9093}"
data="${KAFKA_DATA_DIR:-$repo/.kafka}"
heap="${KAFKA_HEAP:-512m}"
lib="$here/lib"
pidfile="$data/broker.pid"
logfile="$data/broker.log"

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

ensure_jars() {
  if [ ! -f "$lib/.complete" ]; then
    command -v mvn >/dev/null || { echo "broker.sh: Maven (mvn) is needed to fetch the Kafka jars" >&2; exit 1; }
    command -v java >/dev/null || { echo "broker.sh: Java 17+ is needed to run Kafka" >&2; exit 1; }
    echo "broker.sh: resolving the Kafka broker jars with Maven (once)..."
    rm -rf "$lib"
    mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$lib" -DincludeScope=runtime
    touch "$lib/.complete"
  fi
}

jvm=(java -Xms128m "-Xmx$heap" -XX:+UseG1GC -XX:TieredStopAtLevel=1
  -Djava.awt.headless=true "-Dlog4j2.configurationFile=$here/log4j2.yaml" -cp "$lib/*")
java_cmd() { "${jvm[@]}" "$@"; }

prepare() {
  ensure_jars
  mkdir -p "$data"
  sed -e "s/127.0.0.1:9092/127.0.0.1:$port/g" -e "s/127.0.0.1:9093/127.0.0.1:$cport/g" \
    "$here/server.properties" >"$data/server.properties"
  echo "log.dirs=$data/logs" >>"$data/server.properties"
  if [ ! -f "$data/logs/meta.properties" ]; then
    java_cmd kafka.tools.StorageTool format --ignore-formatted \
      --cluster-id "$(java_cmd kafka.tools.StorageTool random-uuid)" \
      --config "$data/server.properties" >/dev/null
  fi
}

start() {
  if listening "$port"; then
    echo "broker.sh: reusing the broker already listening on 127.0.0.1:$port"
    return 0
  fi
  prepare
  nohup "${jvm[@]}" kafka.Kafka "$data/server.properties" >"$logfile" 2>&1 &
  echo $! >"$pidfile"
  for _ in $(seq 1 240); do
    if listening "$port"; then
      echo "broker.sh: started Kafka on 127.0.0.1:$port (pid $(cat "$pidfile"), log $logfile)"
      return 0
    fi
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      echo "broker.sh: Kafka exited during start; last lines of $logfile:" >&2
      tail -n 30 "$logfile" >&2
      exit 1
    fi
    sleep 0.25
  done
  echo "broker.sh: Kafka did not listen on 127.0.0.1:$port within 60 s; see $logfile" >&2
  exit 1
}

stop() {
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    pid="$(cat "$pidfile")"
    kill "$pid"
    for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    rm -f "$pidfile"
    echo "broker.sh: stopped Kafka (pid $pid)"
  else
    echo "broker.sh: no broker started by this script is running"
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if listening "$port"; then echo "listening on 127.0.0.1:$port"; else echo "not running"; exit 3; fi ;;
  run) prepare; exec "${jvm[@]}" kafka.Kafka "$data/server.properties" ;;
  *) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
