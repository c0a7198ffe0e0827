"""Events published to the real broker become counts on /metrics; bad ones are
dead-lettered with their reason while good ones keep flowing; counts survive a kill."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from tests.integration.conftest import WorkerProcess, eventually
from tests.integration.metrics_scrape import scrape, value

pytestmark = pytest.mark.integration


async def publish(producer: AIOKafkaProducer, topic: str, events: list[dict[str, object]]) -> None:
    for event in events:
        key = str(event["operation"]).encode() if "operation" in event else None
        await producer.send(topic, key=key, value=orjson.dumps(event))
    await producer.flush()


def calls(operation: str, n: int, status: str, **extra: object) -> list[dict[str, object]]:
    now = time.time()
    return [{"operation": operation, "status": status, "timestamp": now, **extra} for _ in range(n)]


async def test_published_events_are_counted_on_metrics(
    start_worker: Callable[..., WorkerProcess],
    producer: AIOKafkaProducer,
    worker_env: dict[str, str],
) -> None:
    worker = start_worker()
    topic = worker_env["DETECTOR_CALLS_TOPIC"]
    events = (
        calls("Website.Subscribe", 30, "success", integration="website")
        + calls("Website.Subscribe", 15, "failed", integration="website", error_code="E1")
        + calls("Website.Subscribe", 5, "retrying", integration="website")
        + [{"operation": "Crm.Sync", "count": 100, "errors": 10, "timestamp": time.time()}]
    )
    await publish(producer, topic, events)

    def counted() -> None:
        m = scrape(worker.url)
        sub = {"operation": "Website.Subscribe", "integration": "website"}
        assert value(m, "detector_operation_calls_total", **sub) == 50
        assert value(m, "detector_operation_errors_total", **sub) == 15
        assert value(m, "detector_operation_retries_total", **sub) == 5
        crm = {"operation": "Crm.Sync", "integration": ""}
        assert value(m, "detector_operation_calls_total", **crm) == 100
        assert value(m, "detector_window_errors", **crm) == 10
        assert value(m, "detector_events_consumed_total") == 51

    await eventually(counted)


async def test_invalid_messages_are_dead_lettered_and_valid_ones_flow(
    start_worker: Callable[..., WorkerProcess],
    producer: AIOKafkaProducer,
    worker_env: dict[str, str],
    kafka: str,
) -> None:
    worker = start_worker()
    topic = worker_env["DETECTOR_CALLS_TOPIC"]
    bad = [
        b"{this is not json",
        orjson.dumps({"status": "ok", "timestamp": time.time()}),
        orjson.dumps({"operation": "A", "status": "exploded", "timestamp": time.time()}),
        orjson.dumps([1, 2, 3]),
    ]
    for i, raw in enumerate(bad):
        await producer.send(topic, key=b"A", value=raw)
        await publish(producer, topic, calls("A", 5, "ok"))
        assert i >= 0
    await producer.flush()

    def flowing() -> None:
        m = scrape(worker.url)
        assert value(m, "detector_operation_calls_total", operation="A", integration="") == 20
        assert value(m, "detector_invalid_events_total", reason="not_json") == 1
        assert value(m, "detector_invalid_events_total", reason="invalid") == 2
        assert value(m, "detector_invalid_events_total", reason="not_object") == 1

    await eventually(flowing)
    consumer = AIOKafkaConsumer(
        f"{topic}.invalid",
        bootstrap_servers=kafka,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    try:
        got = []
        async with asyncio.timeout(20):
            while len(got) < len(bad):
                batch = await consumer.getmany(timeout_ms=500)
                got.extend(m for msgs in batch.values() for m in msgs)
    finally:
        await consumer.stop()
    assert sorted(m.value for m in got) == sorted(bad)
    for message in got:
        headers = dict(message.headers)
        assert headers["x-detector-reason"] in (b"not_json", b"invalid", b"not_object")
        assert headers["x-detector-source"].startswith(topic.encode() + b"/")
        assert headers["x-detector-error"]
    by_value = {m.value: dict(m.headers) for m in got}
    assert b"operation" in by_value[bad[1]]["x-detector-error"]


async def test_unkeyed_events_are_rekeyed_and_counted_once(
    start_worker: Callable[..., WorkerProcess],
    producer: AIOKafkaProducer,
    worker_env: dict[str, str],
) -> None:
    worker = start_worker()
    topic = worker_env["DETECTOR_CALLS_TOPIC"]
    for event in calls("Pos.Sale", 12, "ok"):
        await producer.send(topic, key=None, value=orjson.dumps(event))
    await producer.flush()

    def counted() -> None:
        m = scrape(worker.url)
        assert (
            value(m, "detector_operation_calls_total", operation="Pos.Sale", integration="") == 12
        )
        assert value(m, "detector_rekeyed_events_total") == 12

    await eventually(counted)
    await asyncio.sleep(2)
    m = scrape(worker.url)
    assert value(m, "detector_operation_calls_total", operation="Pos.Sale", integration="") == 12


async def test_killed_worker_resumes_with_its_counts(
    start_worker: Callable[..., WorkerProcess],
    producer: AIOKafkaProducer,
    worker_env: dict[str, str],
) -> None:
    topic = worker_env["DETECTOR_CALLS_TOPIC"]
    first = start_worker()
    await publish(producer, topic, calls("Mobile.Login", 40, "ok", integration="app"))
    labels = {"operation": "Mobile.Login", "integration": "app"}

    def window_calls(n: int) -> Callable[[WorkerProcess], None]:
        def check(worker: WorkerProcess) -> None:
            assert value(scrape(worker.url), "detector_window_calls", **labels) == n

        return check

    await eventually(lambda: window_calls(40)(first))
    await asyncio.sleep(3)  # Past the commit interval: offsets and changelog are durable.
    first.kill()
    second = start_worker()
    await eventually(lambda: window_calls(40)(second))
    await publish(producer, topic, calls("Mobile.Login", 10, "error", integration="app"))
    await eventually(lambda: window_calls(50)(second))
    assert value(scrape(second.url), "detector_window_errors", **labels) == 10


async def test_two_workers_share_the_partitions_and_count_everything_once(
    start_worker: Callable[..., WorkerProcess],
    producer: AIOKafkaProducer,
    worker_env: dict[str, str],
) -> None:
    from tests.integration.conftest import free_port

    topic = worker_env["DETECTOR_CALLS_TOPIC"]
    first = start_worker()
    second = start_worker(
        DETECTOR_WEB_PORT=str(free_port()), DETECTOR_DATA_DIR=worker_env["DETECTOR_DATA_DIR"] + "2"
    )
    operations = [f"Shop.Op{i}" for i in range(12)]
    for op in operations:
        await publish(producer, topic, calls(op, 10, "ok"))

    def shared() -> None:
        per_worker = [scrape(w.url) for w in (first, second)]
        for op in operations:
            labels = {"operation": op, "integration": ""}
            held = [value(m, "detector_window_calls", **labels) for m in per_worker]
            assert sorted(held) == [0, 10], (op, held)
        # Both workers own some operations: the partitions are really shared.
        owned = [
            sum(
                value(m, "detector_window_calls", operation=op, integration="") > 0
                for op in operations
            )
            for m in per_worker
        ]
        assert min(owned) > 0, owned

    await eventually(shared, within=60)
