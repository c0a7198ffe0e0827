"""Memory per tracked operation of a real ``detector worker``, and its /metrics and
/api/operations, beside the same worker measured empty in the same run. Run by hand
against a broker (not a timed test):

    .venv/bin/python bench/worker_memory.py --operations 100000

The worker is measured empty (resident memory, a scrape, the list), then sent a few
calls for each of ``--operations`` new operations; once every operation has been judged
(``detector_operations`` counts them all) and has passed a few window ends, it is
measured again.

Resident memory (RSS) is everything the process holds: the tables' state (what the
2 KiB target is about; ``bench/cardinality.py`` measures it alone, in process), the
caches, Faust's producer queue of changelog records not yet sent
(``detector_changelog_pending_records``), what the allocator keeps of memory freed since
(a burst of 100,000 new operations decodes and judges them all at once), and the Python
objects of the web answers. So RSS growth per operation is an upper bound of the state.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from agents.users import write_users
from detector.access import User, Users, token_digest

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "dtk_bench-worker-memory-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def rss(pid: int, field: str = "VmRSS") -> int:
    """Resident memory now (VmRSS) or at its peak (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field}")


def get(url: str, token: bool = False) -> tuple[bytes, float]:
    headers = {"Authorization": f"Bearer {TOKEN}"} if token else {}
    started = time.perf_counter()
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60) as r:
        body: bytes = r.read()
    return body, time.perf_counter() - started


def tracked(body: bytes) -> float:
    return gauge(body, "detector_operations")


def gauge(body: bytes, name: str) -> float:
    return sum(
        s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
        if s.name == name
    )


def measure(url: str, pid: int) -> dict[str, float]:
    ready = orjson.loads(get(f"{url}/readyz")[0])
    metrics, scrape_s = get(f"{url}/metrics")
    problems, problems_s = get(f"{url}/api/operations?status=problems&limit=200", token=True)
    page, page_s = get(f"{url}/api/operations", token=True)
    return {
        "operations judged": tracked(metrics),
        "resident memory (MB)": rss(pid) / 1e6,
        "  its peak so far (MB)": rss(pid, "VmHWM") / 1e6,
        "changelog records queued in Faust's producer": gauge(
            metrics, "detector_changelog_pending_records"
        ),
        "newest judged window ended (s ago)": float(ready.get("last_judged_seconds_ago") or 0),
        "/metrics size (MB)": len(metrics) / 1e6,
        "  scrape (s)": scrape_s,
        "/api/operations?status=problems&limit=200 (KB)": len(problems) / 1e3,
        "  latency (s)": problems_s,
        "/api/operations first page (KB)": len(page) / 1e3,
        "  latency (s) ": page_s,
    }


async def send(broker: str, topic: str, operations: int, calls: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=broker, linger_ms=20)
    await producer.start()
    try:
        now = time.time()
        for i in range(operations):
            name = f"Bench.Operation{i:06d}"
            event = orjson.dumps(
                {"operation": name, "integration": f"int{i % 20}", "count": calls, "timestamp": now}
            )
            await producer.send(topic, key=name.encode(), value=event)
        await producer.flush()
    finally:
        await producer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--broker", default="127.0.0.1:9092")
    parser.add_argument("--operations", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=3, help="calls per operation")
    parser.add_argument("--within", type=float, default=1200, help="seconds to wait")
    parser.add_argument("--log", type=Path, help="keep the worker's output in this file")
    parser.add_argument("--window", type=int, default=60, help="DETECTOR_WINDOW_SECONDS")
    parser.add_argument(
        "--settle",
        type=float,
        default=300,
        help="seconds after all are judged, before measuring (a few window ends)",
    )
    args = parser.parse_args()
    run = uuid.uuid4().hex[:8]
    data = Path(tempfile.mkdtemp(prefix=f"detector-bench-{run}-"))
    write_users(
        data / "users.yaml",
        Users(users=(User(name="bench", role="admin", tokens=(token_digest(TOKEN),)),)),
    )
    port = free_port()
    topic = f"bench-calls-{run}"
    env = {
        **os.environ,
        "DETECTOR_BROKER": args.broker,
        "DETECTOR_APP_ID": f"bench-{run}",
        "DETECTOR_CALLS_TOPIC": topic,
        "DETECTOR_STATUS_TOPIC": f"bench-status-{run}",
        "DETECTOR_LOG_TOPIC": f"{topic}-log",
        "DETECTOR_PAYLOAD_TOPIC": f"{topic}-payloads",
        "DETECTOR_PARTITIONS": "1",
        "DETECTOR_WEB_PORT": str(port),
        "DETECTOR_DATA_DIR": str(data),
        "DETECTOR_MAX_OPERATIONS": str(args.operations * 2),
        "DETECTOR_MAX_OPERATIONS_PER_INTEGRATION": str(args.operations * 2),
        "DETECTOR_WINDOW_SECONDS": str(args.window),
        "DETECTOR_LOG_LEVEL": "info" if args.log else "warn",
        "PYTHONPATH": str(ROOT),
    }
    output = args.log.open("w") if args.log else subprocess.DEVNULL
    proc = subprocess.Popen(
        [sys.executable, "-m", "agents.cli", "worker", "--quiet"],
        env=env,
        cwd=ROOT,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + args.within
        while True:
            try:
                get(f"{url}/readyz")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
        time.sleep(10)  # Past the first evaluations.
        empty = measure(url, proc.pid)
        started = time.perf_counter()
        asyncio.run(send(args.broker, topic, args.operations, args.calls))
        print(f"sent {args.operations:,} operations in {time.perf_counter() - started:.0f} s")
        while tracked(get(f"{url}/metrics")[0]) < args.operations:
            if time.monotonic() > deadline:
                raise RuntimeError("not every operation was judged in time")
            time.sleep(5)
        print(f"all judged {time.perf_counter() - started:.0f} s after the first send")
        # Steady state: a few window ends judged, the burst's changelog writes sent.
        time.sleep(args.settle)
        full = measure(url, proc.pid)
    finally:
        proc.terminate()
        proc.wait(60)
    print(f"{'':48} {'empty':>12} {'measured':>12}")
    for key in full:
        print(f"{key:48} {empty[key]:>12.3f} {full[key]:>12.3f}")
    grown = (full["resident memory (MB)"] - empty["resident memory (MB)"]) * 1e6
    print(
        f"resident memory per tracked operation: {grown / args.operations:,.0f} bytes "
        "(RSS: the tables' state plus caches, queued changelog records and what the "
        "allocator keeps; the state alone: bench/cardinality.py)"
    )


if __name__ == "__main__":
    main()
