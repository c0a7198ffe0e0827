"""Plain aiokafka clients behind the CLI: publishing events and following status changes.
They run outside the Faust worker, as a producer team or an alert consumer would."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from detector.simulate import Incident, simulated
from detector.simulate_events import LIFECYCLE_PROFILES, Due, LifecycleIncident, lifecycle_events
from detector.status import StatusChange


async def publish(
    broker: str, topic: str, records: Iterable[Mapping[str, Any]], *, linger_ms: int = 20
) -> int:
    """Send records as JSON, key = operation; returns how many were sent."""
    producer = AIOKafkaProducer(bootstrap_servers=broker, linger_ms=linger_ms)
    await producer.start()
    sent = 0
    try:
        pending = []
        for record in records:
            key = str(record["operation"]).encode()
            pending.append(await producer.send(topic, orjson.dumps(record), key=key))
            sent += 1
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return sent


async def follow_changes(
    broker: str, topic: str, *, from_beginning: bool, on_invalid: Callable[[bytes], None]
) -> AsyncIterator[StatusChange]:
    """Status changes as they are published, each id once (delivery is at-least-once)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=broker,
        group_id=None,
        auto_offset_reset="earliest" if from_beginning else "latest",
    )
    await consumer.start()
    seen: set[str] = set()
    try:
        async for message in consumer:
            try:
                change = StatusChange.model_validate_json(message.value or b"")
            except ValueError:
                on_invalid(message.value or b"")
                continue
            if change.id not in seen:
                seen.add(change.id)
                yield change
    finally:
        await consumer.stop()


async def ensure_topic(broker: str, topic: str, partitions: int) -> None:
    """Create the topic if it is missing (as the worker would), so the first records do
    not go to a topic auto-created with the broker's defaults."""
    admin = AIOKafkaAdminClient(bootstrap_servers=broker)
    await admin.start()
    try:
        # The worker may create it in the meantime: that is fine too.
        with contextlib.suppress(TopicAlreadyExistsError):
            if topic not in await admin.list_topics():
                await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()


async def simulate_live(
    broker: str,
    topic: str,
    *,
    partitions: int,
    backfill_seconds: int,
    incidents: list[Incident],
    seed: int,
    minutes: int | None,
    report: Callable[[str], None],
    lifecycle: list[LifecycleIncident] | None = None,
    realistic: bool = True,
) -> None:
    """Publish simulated traffic: ``backfill_seconds`` of history at once, then each
    minute as it ends (for ``minutes`` minutes, or until interrupted). With
    ``lifecycle``, also every status message of the lifecycle operations' events, each
    published in the minute it happens."""
    await ensure_topic(broker, topic, partitions)
    now = int(time.time()) // 60 * 60
    first, last = now - backfill_seconds, now + (minutes or 3650 * 1440) * 60
    events = Due(
        lifecycle_events(LIFECYCLE_PROFILES, lifecycle or [], first, last, seed=seed)
        if lifecycle is not None
        else iter(())
    )
    history = simulated(incidents, first, now, seed, realistic, origin=first)
    # In time order: lifecycle history published after the rest would come after an hour
    # its partition has already read, and be counted late, not learned from.
    backlog = heapq.merge(history, events.until(now), key=lambda r: float(r["timestamp"]))
    sent = await publish(broker, topic, list(backlog))
    report(f"published {sent:,} records of history ({backfill_seconds // 3600} h)")
    minute = now
    while minutes is None or minute < now + minutes * 60:
        await asyncio.sleep(max(0.0, minute + 61 - time.time()))
        records = simulated(incidents, minute, minute + 60, seed, realistic, origin=first)
        sent = await publish(broker, topic, [*records, *events.until(minute + 60)])
        report(f"{datetime.fromtimestamp(minute, tz=UTC):%H:%M} published {sent} records")
        minute += 60
