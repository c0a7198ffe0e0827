"""Idle operations are forgotten on the real broker: every table's changelog ends with a
true tombstone (a null record value, which log compaction removes), and a restarted
worker recovers nothing of them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from tests.integration.conftest import WorkerProcess, eventually
from tests.integration.metrics_scrape import scrape, value

pytestmark = pytest.mark.integration

TABLES = ("window-counts", "operation-models", "operation-summaries", "inflight-events")


async def changelog(kafka: str, topic: str, key: str) -> list[bytes | None]:
    """The values of ``key``'s records in a one-partition changelog, oldest first."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, auto_offset_reset="earliest")
    await consumer.start()
    values: list[bytes | None] = []
    keys = (key.encode(), f'"{key}"'.encode())
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        async with asyncio.timeout(20):
            while await consumer.position(tp) < end:
                for msgs in (await consumer.getmany(timeout_ms=500)).values():
                    values += [m.value for m in msgs if m.key in keys]
    finally:
        await consumer.stop()
    return values


async def test_evicted_operations_leave_tombstones_and_nothing_to_recover(
    start_worker: Callable[..., WorkerProcess],
    producer: AIOKafkaProducer,
    worker_env: dict[str, str],
    kafka: str,
) -> None:
    topic, app_id = worker_env["DETECTOR_CALLS_TOPIC"], worker_env["DETECTOR_APP_ID"]
    settings = {"DETECTOR_PARTITIONS": "1", "DETECTOR_IDLE_DAYS": "1"}
    first = start_worker(**settings)
    two_days_ago = time.time() - 2 * 86400
    # Read after a later call, Idle.Op's window is closed: it is judged (its model and
    # summary stored) before the evaluator finds both idle by the wall clock.
    for operation, at in (("Idle.Later", two_days_ago + 1800), ("Idle.Op", two_days_ago)):
        event = {"operation": operation, "status": "ok", "timestamp": at}
        await producer.send(topic, key=operation.encode(), value=orjson.dumps(event))
    await producer.flush()
    await eventually(lambda: _evicted(first, 2))
    for table in TABLES:
        values = await changelog(kafka, f"{app_id}-{table}-changelog", "Idle.Op")
        assert values, f"{table}: no record of Idle.Op"
        assert values[-1] is None, f"{table}: the last record is {values[-1]!r}, not a tombstone"
        assert any(v is not None for v in values), f"{table}: Idle.Op was never stored"
    await asyncio.sleep(3)  # Past the commit interval.
    first.stop()
    second = start_worker(**settings)
    m = scrape(second.url)
    assert not [k for k in m if ("operation", "Idle.Op") in k[1]]
    assert not [k for k in m if k[0] == "detector_operations"]
    assert not [k for k in m if k[0] == "detector_quarantined_records_total" and m[k]]
    assert second.proc is not None
    assert second.proc.poll() is None


def _evicted(worker: WorkerProcess, n: int) -> None:
    assert value(scrape(worker.url), "detector_evicted_operations_total") == n
