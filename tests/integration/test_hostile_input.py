"""Hostile records against a worker on the real broker: each is dead-lettered or
counted as late with its reason, and the worker keeps running and counting."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

from tests.integration.conftest import WorkerProcess, eventually
from tests.integration.metrics_scrape import scrape, value

pytestmark = pytest.mark.integration


async def dead_letters(kafka: str, topic: str, n: int) -> list[ConsumerRecord[bytes, bytes]]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    got: list[ConsumerRecord[bytes, bytes]] = []
    try:
        async with asyncio.timeout(20):
            while len(got) < n:
                batch = await consumer.getmany(timeout_ms=500)
                got.extend(m for msgs in batch.values() for m in msgs)
    finally:
        await consumer.stop()
    return got


async def test_huge_counts_are_dead_lettered_and_the_worker_keeps_counting(
    start_worker: Callable[..., WorkerProcess],
    producer: AIOKafkaProducer,
    worker_env: dict[str, str],
    kafka: str,
) -> None:
    """Ten records of 10^18 calls once overflowed to a negative count and crash-looped
    the worker; now they are dead-lettered and the valid calls around them counted."""
    worker = start_worker()
    topic = worker_env["DETECTOR_CALLS_TOPIC"]
    now = time.time()
    huge = orjson.dumps({"operation": "Crm.Sync", "count": 10**18, "timestamp": now})
    for _ in range(10):
        await producer.send(topic, key=b"Crm.Sync", value=huge)
    ok = {"operation": "Crm.Sync", "count": 1_000_000, "errors": 3, "timestamp": now}
    await producer.send(topic, key=b"Crm.Sync", value=orjson.dumps(ok))
    await producer.flush()
    labels = {"operation": "Crm.Sync", "integration": ""}

    def counted(calls: int) -> Callable[[], None]:
        def check() -> None:
            m = scrape(worker.url)
            assert value(m, "detector_invalid_events_total", reason="count_too_large") == 10
            assert value(m, "detector_operation_calls_total", **labels) == calls

        return check

    await eventually(counted(1_000_000))
    got = await dead_letters(kafka, f"{topic}.invalid", 10)
    assert [m.value for m in got] == [huge] * 10
    assert {dict(m.headers)["x-detector-reason"] for m in got} == {b"count_too_large"}
    assert b"DETECTOR_MAX_COUNT" in dict(got[0].headers)["x-detector-error"]
    # Still alive and still counting after the hostile records.
    await producer.send(topic, key=b"Crm.Sync", value=orjson.dumps({**ok, "count": 5}))
    await producer.flush()
    await eventually(counted(1_000_005))
    assert worker.proc is not None
    assert worker.proc.poll() is None
    assert not [line for line in worker.log if "Traceback" in line]
