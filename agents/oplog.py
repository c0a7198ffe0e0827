"""The operation log on Kafka: failed and retried calls forwarded by the ingest agent
to ``operation-log`` (metadata, 30 days) and ``operation-log-payloads`` (payloads, 7 days),
both keyed by operation and stamped with the call's event time, so Kafka's own time
retention expires them and a time range is found with ``offsets_for_times``.

Reading serves the dashboard: one operation's partition of each topic (and of the
status topic), from the range start to its end. Entries are never changed.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner

from agents.settings import Settings
from detector.events import OperationCall
from detector.ingest import RawRecord
from detector.oplog import LogEntry, entry_fields, from_change, with_payload
from detector.status import StatusChange

SLACK_MS = 600_000  # Entries of a partition are in time order give or take this.
MAX_MESSAGES = 50_000  # Most messages read per topic for one request.
_PARTITIONER = DefaultPartitioner()


def topic_configs(settings: Settings) -> dict[str, int]:
    """Retention in seconds per log topic."""
    return {
        settings.log_topic: int(settings.log_retention_days * 86400),
        settings.payload_topic: int(settings.payload_retention_days * 86400),
    }


def messages(
    settings: Settings, failures: list[tuple[RawRecord, OperationCall]]
) -> list[tuple[str, bytes, bytes, int]]:
    """(topic, key, value, timestamp in ms) of the log entries and payloads of failed
    calls, stamped with the calls' event time so Kafka's time retention expires them."""
    out = []
    for record, call in failures:
        fields = entry_fields(call, settings.calls_topic, record.partition, record.offset)
        key = call.operation.encode()
        stamp = int((call.timestamp or 0.0) * 1000)
        out.append((settings.log_topic, key, orjson.dumps(fields), stamp))
        if call.payload is not None:
            body = orjson.dumps({"id": fields["id"], "payload": call.payload})
            out.append((settings.payload_topic, key, body, stamp))
    return out


async def read_log(
    settings: Settings, operation: str, start: float, end: float, now: float | None = None
) -> list[LogEntry]:
    """Every entry of ``operation`` with event time in [start, end], payloads joined."""
    key = operation.encode()
    counts = await _partition_counts(
        settings, [settings.log_topic, settings.status_topic, settings.payload_topic]
    )
    entries: list[LogEntry] = []
    async for value in _read(settings, settings.log_topic, counts, key, start, end):
        entry = LogEntry.model_validate_json(value)
        if entry.operation == operation and start <= entry.timestamp <= end:
            entries.append(entry)
    async for value in _read(settings, settings.status_topic, counts, key, start, end):
        change = StatusChange.model_validate_json(value)
        if change.operation == operation and start <= change.at.timestamp() <= end:
            entries.append(from_change(change))
    payloads: dict[str, Any] = {}
    async for value in _read(settings, settings.payload_topic, counts, key, start, end):
        record = orjson.loads(value)
        payloads[record["id"]] = record["payload"]
    expired_before = (time.time() if now is None else now) - settings.payload_retention_days * 86400
    return [with_payload(e, payloads, expired_before) for e in entries]


async def _partition_counts(settings: Settings, topics: list[str]) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.broker)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    return {t["topic"]: len(t["partitions"]) for t in described if t["partitions"]}


async def _read(
    settings: Settings,
    topic: str,
    counts: dict[str, int],
    key: bytes,
    start: float,
    end: float,
) -> AsyncIterator[bytes]:
    if topic not in counts:
        return  # Not created yet: nothing logged.
    ordered = list(range(counts[topic]))
    # The producers' partitioner: the same key lands in the same partition.
    tp = TopicPartition(topic, _PARTITIONER(key, ordered, ordered))
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.broker, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign([tp])
        found = await consumer.offsets_for_times({tp: int(start * 1000) - SLACK_MS})
        last = (await consumer.end_offsets([tp]))[tp]
        offset = found[tp].offset if found.get(tp) is not None else last
        if offset >= last:
            return
        consumer.seek(tp, offset)
        read = 0
        while read < MAX_MESSAGES:
            batch = await consumer.getmany(tp, timeout_ms=1000, max_records=5000)
            messages = batch.get(tp, [])
            if not messages:
                return
            for message in messages:
                read += 1
                if message.timestamp > end * 1000 + SLACK_MS:
                    return
                if message.key == key and message.value:
                    yield message.value
            if messages[-1].offset >= last - 1:
                return
    except KafkaError:
        return
    finally:
        await consumer.stop()
