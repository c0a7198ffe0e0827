"""A broker outage on a worker's own broker: the log stays quiet (repeats held back and
told with their count; some 200 lines a second before), /readyz says 503 naming the
broker while it is away and 200 once it is back, /healthz keeps answering (a liveness
probe must not restart a worker that only waits), and every call sent around the outage
is counted exactly once. HTTP ingest answers 503 at once while Kafka is away."""

from __future__ import annotations

import asyncio
import re
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable

import aiohttp
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from tests.integration.conftest import OwnBroker, WorkerProcess, eventually
from tests.integration.metrics_scrape import scrape, value

pytestmark = pytest.mark.integration
OPERATIONS = [f"Outage.Op{i}" for i in range(4)]
TOKEN = "outage-test-token-0123456789"
OUTAGE = 16.0  # Seconds without a broker.
REPEAT = 5  # DETECTOR_LOG_REPEAT_SECONDS: held-back repeats are told within the outage.
STAMP = re.compile(r"^\[\d{4}-\d\d-\d\d (\d\d:\d\d:\d\d),\d+\] \[\d+\] \[(\w+)\]")


def get(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, orjson.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, orjson.loads(exc.read())


async def send_calls(address: str, topic: str, n: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=address, linger_ms=5)
    await producer.start()
    try:
        for i in range(n):
            op = OPERATIONS[i % len(OPERATIONS)]
            call = {"operation": op, "status": "ok", "timestamp": time.time()}
            await producer.send(topic, orjson.dumps(call), key=op.encode())
        await producer.flush()
    finally:
        await producer.stop()


async def post_calls(url: str, n: int, operation: str = OPERATIONS[0]) -> int:
    """POST n calls; the HTTP status."""
    body = b"\n".join(
        orjson.dumps({"operation": operation, "status": "ok", "timestamp": time.time()})
        for _ in range(n)
    )
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.post(f"{url}/api/calls", data=body) as response,
    ):
        return response.status


def counted(worker: WorkerProcess) -> float:
    samples = scrape(worker.url)
    return sum(
        value(samples, "detector_window_calls", operation=op, integration="") for op in OPERATIONS
    )


def per_second(lines: list[str]) -> Counter[str]:
    """Log lines (the worker's own, Faust's and aiokafka's) per wall-clock second."""
    return Counter(m.group(1) for line in lines if (m := STAMP.match(line)))


async def test_a_broker_outage_is_quiet_reported_and_loses_no_call(
    own_broker: OwnBroker,  # First: torn down last, after the workers that use it.
    start_worker: Callable[..., WorkerProcess],
    worker_env: dict[str, str],
) -> None:
    worker = start_worker(
        DETECTOR_BROKER=own_broker.address,
        DETECTOR_LOG_REPEAT_SECONDS=str(REPEAT),
        DETECTOR_INGEST_TOKENS=f"shop={TOKEN}",
        DETECTOR_INGEST_WRITE_TIMEOUT="2",
    )
    topic = worker_env["DETECTOR_CALLS_TOPIC"]
    await send_calls(own_broker.address, topic, 2000)
    assert await post_calls(worker.url, 100) == 202
    await eventually(lambda: counted(worker) == 2100 or _fail("".join(worker.log[-80:])), 60)

    down_at = len(worker.log)
    await asyncio.to_thread(own_broker.run, "stop")
    stopped = time.monotonic()
    answers = []
    while time.monotonic() - stopped < OUTAGE:
        answers.append((get(f"{worker.url}/healthz"), get(f"{worker.url}/readyz")))
        await asyncio.sleep(1)
    # Kafka away: not acknowledged within DETECTOR_INGEST_WRITE_TIMEOUT. At-least-once: the
    # producer may still deliver it later, so it is another operation's, not counted here.
    refused = await post_calls(worker.url, 50, "Outage.Http")
    outage = time.monotonic() - stopped
    during = worker.log[down_at:]
    await asyncio.to_thread(own_broker.run, "start")

    assert all(health == (200, {"status": "ok"}) for health, _ in answers)
    for status, body in [ready for _, ready in answers[2:]]:  # Past the first seconds.
        assert status == 503
        assert body["broker"] is False
        assert own_broker.address in str(body["error"])
    assert refused == 503
    rates = per_second(during)
    report = f"{len(during)} lines in {outage:.0f} s; per second {sorted(rates.items())}"
    assert len(during) / outage < 3, report  # ~200 a second without the rate limit.
    assert max(rates.values()) < 30, report  # The first second names each failure once.
    told = [line for line in during if re.search(r"; [1-9]\d* similar in the last \d+ s", line)]
    assert told, "no repeat told with its count:\n" + "".join(during)

    await send_calls(own_broker.address, topic, 2000)
    assert await post_calls(worker.url, 50) == 202
    await eventually(lambda: get(f"{worker.url}/readyz")[0] == 200 or _fail("not ready"), 60)
    await eventually(lambda: counted(worker) == 4150 or _fail(counted(worker)), 60)
    assert get(f"{worker.url}/readyz")[1]["broker"] is True
    await asyncio.sleep(2)
    assert counted(worker) == 4150  # Not one more.
    http = {"operation": "Outage.Http", "integration": ""}
    assert value(scrape(worker.url), "detector_window_calls", **http) in (0, 50)
    print(report)  # The figure for the README (pytest -s).


def _fail(what: object) -> bool:
    raise AssertionError(what)
