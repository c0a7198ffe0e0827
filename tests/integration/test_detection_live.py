"""The live worker on the real broker decides exactly what `detector replay` decides
for the same events, and a worker killed and restarted neither forgets its baselines
nor publishes a change twice."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from detector.events import OperationCall
from detector.opconfig import DetectionConfig
from detector.replay import replay
from detector.simulate import PROFILES, Incident, generate
from detector.status import Status, StatusChange
from tests.integration.conftest import WorkerProcess, afternoon

pytestmark = pytest.mark.integration
OPERATIONS = PROFILES[:4]


def history(now: int) -> tuple[list[dict[str, object]], int]:
    """Five hours of traffic ending ten minutes ago, with everything failing for 20 min
    of it; and the boundary replay judges up to (the last event's window start)."""
    start, end = now - 5 * 3600, now - 600
    incident = Incident("Website.Subscribe", "all_failing", now - 3600, now - 2400)
    records = list(generate(OPERATIONS, [incident], start, end, seed=11, utc_offset=afternoon(now)))
    last = max(int(r["timestamp"]) for r in records)  # type: ignore[call-overload]
    return records, last // 60 * 60


async def read_changes(kafka: str, topic: str) -> list[StatusChange]:
    """Every change on the topic up to its end offsets as of now (not "until a poll
    comes back empty", which a loaded machine can cut short)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    messages = []
    try:
        batch = await consumer.getmany(timeout_ms=2000)
        tps = consumer.assignment()
        end = await consumer.end_offsets(list(tps)) if tps else {}
        deadline = time.monotonic() + 30
        while True:
            messages.extend(m for msgs in batch.values() for m in msgs)
            if all([await consumer.position(tp) >= end[tp] for tp in tps]):
                break
            assert time.monotonic() < deadline, f"could not read {topic} to its end"
            batch = await consumer.getmany(timeout_ms=1000)
    finally:
        await consumer.stop()
    return [StatusChange.model_validate_json(m.value) for m in messages]


async def publish(producer: AIOKafkaProducer, topic: str, records: list[dict[str, object]]) -> None:
    for record in records:
        await producer.send(topic, orjson.dumps(record), key=str(record["operation"]).encode())
    await producer.flush()


async def wait_for(kafka: str, topic: str, ids: set[str], seconds: int = 60) -> list[StatusChange]:
    """Every change published so far, once all of ``ids`` are among them."""
    changes: list[StatusChange] = []
    for _ in range(seconds):
        changes = await read_changes(kafka, topic)
        if ids <= {c.id for c in changes}:
            return changes
        await asyncio.sleep(1)
    missing = ids - {c.id for c in changes}
    raise AssertionError(f"{len(missing)} changes never published")


def replayed(records: list[dict[str, object]]) -> dict[str, StatusChange]:
    calls = [OperationCall.model_validate(r) for r in records]
    return {c.id: c for c in replay(calls, DetectionConfig())}


async def published_live(
    records: list[dict[str, object]],
    expected: dict[str, StatusChange],
    start_worker: Callable[..., WorkerProcess],
    producer: AIOKafkaProducer,
    worker_env: dict[str, str],
    kafka: str,
) -> dict[str, StatusChange]:
    """The records published, then a worker started: the changes it publishes, once
    every change replay made for them is among them."""
    await publish(producer, worker_env["DETECTOR_CALLS_TOPIC"], records)
    start_worker()
    changes = await wait_for(kafka, worker_env["DETECTOR_STATUS_TOPIC"], set(expected))
    return {c.id: c for c in changes}


async def test_live_worker_and_replay_make_the_same_changes(
    start_worker: Callable[..., WorkerProcess],
    producer: AIOKafkaProducer,
    worker_env: dict[str, str],
    kafka: str,
) -> None:
    records, judged_until = history(int(time.time()))
    expected = replayed(records)
    assert any(c.status is Status.MANY_PROBLEMS for c in expected.values())
    live = await published_live(records, expected, start_worker, producer, worker_env, kafka)
    within = {i for i, c in live.items() if c.at.timestamp() <= judged_until}
    assert within == set(expected)
    for change_id, change in expected.items():
        got = live[change_id]
        assert got.model_dump(exclude={"detected_at", "log_url"}) == change.model_dump(
            exclude={"detected_at", "log_url"}
        )
        assert got.detected_at is not None
        assert got.log_url is not None
        assert f"/operations/{got.operation}/log?" in got.log_url


async def test_restarted_worker_keeps_baselines_and_publishes_no_duplicate(
    start_worker: Callable[..., WorkerProcess],
    producer: AIOKafkaProducer,
    worker_env: dict[str, str],
    kafka: str,
) -> None:
    records, _ = history(int(time.time()))
    expected = replayed(records)
    await publish(producer, worker_env["DETECTOR_CALLS_TOPIC"], records)
    first = start_worker()
    status_topic = worker_env["DETECTOR_STATUS_TOPIC"]
    await wait_for(kafka, status_topic, set(expected))
    await asyncio.sleep(4)  # Past the commit interval: offsets and tables are durable.
    first.kill()
    second = start_worker()
    await asyncio.sleep(12)  # Recovery plus a couple of evaluation rounds.
    after = await read_changes(kafka, status_topic)
    ids = [c.id for c in after]
    assert len(ids) == len(set(ids)), "a change was published twice"
    learning = [c for c in after if c.status is Status.LEARNING]
    seen = {r["operation"] for r in records}  # A rare one may have no call in 5 hours.
    assert len(learning) == len(seen), "a baseline was forgotten and relearned"
    second.stop()


async def test_two_workers_sharing_partitions_make_the_same_changes_once(
    start_worker: Callable[..., WorkerProcess],
    producer: AIOKafkaProducer,
    worker_env: dict[str, str],
    kafka: str,
) -> None:
    from tests.integration.conftest import free_port

    start_worker()
    start_worker(
        DETECTOR_WEB_PORT=str(free_port()),
        DETECTOR_DATA_DIR=worker_env["DETECTOR_DATA_DIR"] + "-2",
    )
    await asyncio.sleep(3)  # Let the group settle with both members.
    records, judged_until = history(int(time.time()))
    expected = replayed(records)
    await publish(producer, worker_env["DETECTOR_CALLS_TOPIC"], records)
    changes = await wait_for(kafka, worker_env["DETECTOR_STATUS_TOPIC"], set(expected))
    ids = [c.id for c in changes]
    assert len(ids) == len(set(ids))
    assert {c.id for c in changes if c.at.timestamp() <= judged_until} == set(expected)
