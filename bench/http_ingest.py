"""HTTP ingest throughput: calls/s POSTed as NDJSON batches to a real worker, beside the
pure validation rate (``detector.submission.submit``) of the same batches in the same
run. Run by hand against a local broker (not a timed test):

    deploy/kafka/broker.sh start
    .venv/bin/python bench/http_ingest.py --seconds 15 --batch 2000 --clients 4

It starts ``detector worker`` on a fresh topic, posts for ``--seconds`` from
``--clients`` concurrent connections (each answer is a 202 after Kafka acknowledged the
batch), then waits until the worker has counted every accepted call. The client runs on
the same machine and takes CPU from the worker.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import aiohttp
import numpy as np
import orjson
from prometheus_client.parser import text_string_to_metric_families

from detector.submission import submit

ROOT = Path(__file__).resolve().parents[1]
OPERATIONS = [f"Bench.Operation{i}" for i in range(50)]
TOKEN = "bench-token-0123456789"


def batches(count: int, size: int, seed: int = 1) -> list[bytes]:
    """NDJSON bodies of ``size`` calls: 50 operations, 5% failures with evidence."""
    rng = np.random.default_rng(seed)
    now = time.time()
    out = []
    for _ in range(count):
        ops = rng.integers(0, len(OPERATIONS), size)
        failed = rng.random(size) < 0.05
        lines = []
        for i in range(size):
            record: dict[str, object] = {
                "operation": OPERATIONS[ops[i]],
                "status": "failed" if failed[i] else "ok",
                "timestamp": now - rng.random() * 2,
                "source_record": f"r-{i}",
            }
            if failed[i]:
                record.update(error_code="503", payload={"id": i})
            lines.append(orjson.dumps(record))
        out.append(b"\n".join(lines))
    return out


def counted_calls(url: str) -> float:
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "detector_operation_calls_total"
    )


async def post_for(
    url: str, bodies: list[bytes], seconds: float, clients: int
) -> tuple[int, float]:
    """Calls accepted and the elapsed time, posting from ``clients`` connections."""
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"}
    accepted = 0
    async with aiohttp.ClientSession(headers=headers) as http:
        started = time.perf_counter()
        deadline = started + seconds

        async def client(n: int) -> None:
            nonlocal accepted
            i = n
            while time.perf_counter() < deadline:
                async with http.post(f"{url}/api/calls", data=bodies[i % len(bodies)]) as r:
                    answer = await r.json()
                    if r.status != 202:
                        raise RuntimeError(f"{r.status}: {answer}")
                    accepted += answer["calls"]
                i += clients

        await asyncio.gather(*(client(n) for n in range(clients)))
        return accepted, time.perf_counter() - started


async def ready(url: str) -> None:
    """Until the worker is ready (/readyz) and answers a real POST."""
    body = orjson.dumps({"operation": "Bench.Ready", "status": "ok"})
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        for _ in range(1200):
            try:
                async with http.get(f"{url}/readyz") as probe:
                    if probe.status != 200:
                        await asyncio.sleep(0.1)
                        continue
                async with http.post(f"{url}/api/calls", data=body) as r:
                    if r.status == 202:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the worker did not come up")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker", default="127.0.0.1:9092")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--batch", type=int, default=2000, help="calls per NDJSON body")
    parser.add_argument("--clients", type=int, default=4, help="concurrent connections")
    parser.add_argument("--port", type=int, default=6098)
    args = parser.parse_args()
    bodies = batches(20, args.batch)

    started = time.perf_counter()
    validated = sum(submit(body, time.time()).calls for body in bodies)
    pure = validated / (time.perf_counter() - started)
    print(f"submit() alone (validate + group), in process : {pure:>9,.0f} calls/s")

    unique = uuid.uuid4().hex[:8]
    url = f"http://127.0.0.1:{args.port}"
    env = {
        **os.environ,
        "DETECTOR_BROKER": args.broker,
        "DETECTOR_APP_ID": f"bench-http-{unique}",
        "DETECTOR_CALLS_TOPIC": f"bench-http-calls-{unique}",
        "DETECTOR_STATUS_TOPIC": f"bench-http-status-{unique}",
        "DETECTOR_LOG_TOPIC": f"bench-http-log-{unique}",
        "DETECTOR_PAYLOAD_TOPIC": f"bench-http-payloads-{unique}",
        "DETECTOR_WEB_PORT": str(args.port),
        "DETECTOR_DATA_DIR": f"/tmp/detector-bench-{unique}",
        "DETECTOR_LOG_LEVEL": "warn",
        "DETECTOR_INGEST_TOKENS": f"bench={TOKEN}",
    }
    log_path = Path(env["DETECTOR_DATA_DIR"] + ".log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_file = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "agents.cli", "worker", "--quiet"],
        env=env,
        cwd=ROOT,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    try:
        asyncio.run(ready(url))
        accepted, elapsed = asyncio.run(post_for(url, bodies, args.seconds, args.clients))
        rate = accepted / elapsed
        print(
            f"POST /api/calls, NDJSON x{args.batch}, {args.clients} clients : {rate:>9,.0f} "
            f"calls/s ({accepted:,} calls in {elapsed:.1f} s; {rate / pure:.0%} of submit())"
        )
        expected = accepted + 1  # The readiness probe's call.
        deadline = time.monotonic() + 120
        while (counted := counted_calls(url)) < expected and time.monotonic() < deadline:
            time.sleep(0.5)
        print(f"worker counted {counted:,.0f} of {expected:,} accepted calls (log: {log_path})")
    finally:
        proc.terminate()
        proc.wait(30)
        log_file.close()


if __name__ == "__main__":
    main()
