"""The ingest agent: operation-call events -> window counts, in batches.

decode (detector.ingest) -> aggregate with numpy (detector.windows) -> one table write per
operation -> metrics. Bad messages are dead-lettered with their reason, never raised.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from agents import oplog
from detector.cardinality import Roster
from detector.errors import DecodeError
from detector.ingest import DecodedBatch, RawRecord, decode_batch
from detector.windows import OperationWindows, WindowCounts, aggregate, closed_until
from tables import counts as counts_table
from tables.writes import put

if TYPE_CHECKING:
    from agents.context import Detector

log = logging.getLogger(__name__)


class _LogLimit:
    """At most one log line per reason per interval: a storm of bad messages must not
    drown the log (the metric counts every one)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.last: dict[str, float] = {}

    def allow(self, reason: str, now: float) -> bool:
        if now - self.last.get(reason, -self.interval) < self.interval:
            return False
        self.last[reason] = now
        return True


_LOG_LIMIT = _LogLimit(10.0)


def register(detector: Detector) -> None:
    settings = detector.settings
    limits = settings.limits
    # Newest event time read per partition, before the batch at hand (late events).
    watermarks: dict[int, float] = {}
    roster = Roster(settings.max_operations, settings.max_operations_per_integration)

    @detector.app.agent(detector.topics.calls, name="ingest")
    async def ingest(stream: Any) -> None:
        async for events in stream.take_events(settings.batch_size, settings.batch_within):
            started = time.perf_counter()
            records = [_raw(event.message) for event in events]
            decoded = decode_batch(records, limits)
            refused = _refuse(detector, roster, decoded)
            if refused:
                await _dead_letter(
                    detector, [(r, refused[r.key]) for r in records if r.key in refused]
                )
                decoded = decode_batch([r for r in records if r.key not in refused], limits)
            await _dead_letter(detector, decoded.invalid)
            await _rekey(detector, decoded.misrouted)
            await oplog.forward(
                detector.topics.log,
                detector.topics.payloads,
                settings.calls_topic,
                decoded.failures,
            )
            await _store(detector, decoded, watermarks)
            _observe(detector, events, decoded)
            detector.metrics.batch_seconds.observe(time.perf_counter() - started)


def _refuse(detector: Detector, roster: Roster, decoded: DecodedBatch) -> dict[Any, DecodeError]:
    """Record keys of new operations past the caps (``detector.cardinality``), with why."""
    if len(roster.operations) != len(detector.counts.data):  # Rebalanced, or late-only.
        items = list(detector.counts.data.items())
        roster.sync((op, v.get("i") if isinstance(v, dict) else None) for op, v in items)
    refused = roster.refuse(decoded.batch.names, decoded.batch.integrations)
    return {op.encode(): DecodeError("too_many_operations", why) for op, why in refused.items()}


def _raw(message: Any) -> RawRecord:
    return RawRecord(
        message.key, message.value, message.partition, message.offset, message.timestamp
    )


async def _store(detector: Detector, decoded: DecodedBatch, read: dict[int, float]) -> None:
    """Merge the batch into each operation's windows, judge the windows it closed, then
    drop the windows past the retention.

    Judging here, not only on the timer, matters when a backlog is read: one batch can
    span hours of event time, and every window must be judged before it expires.
    """
    settings = detector.settings
    by_operation: dict[str, list[tuple[int, WindowCounts]]] = defaultdict(list)
    for (operation, start), counts in aggregate(decoded.batch, settings.window_seconds).items():
        by_operation[operation].append((start, counts))
    watermarks: dict[int, float] = {}
    for operation, last in decoded.last_call_at.items():
        for partition in decoded.partitions[operation]:
            watermarks[partition] = max(watermarks.get(partition, 0.0), last)
    for operation, windows in by_operation.items():
        state = _merge(
            detector, operation, decoded, windows, read.get(min(decoded.partitions[operation]))
        )
        if not state.windows:
            continue  # A new operation whose every call was late: nothing to keep.
        until = closed_until(
            settings.window_seconds, settings.grace_seconds, watermarks[state.partition]
        )
        await detector.judge(operation, state, until, time.time())
        state.expire(settings.window_retention_seconds)
        put(detector.counts, state.partition, operation, state.to_value())
        _count(detector, operation, state.integration, windows)
    for partition, mark in watermarks.items():
        read[partition] = max(mark, read.get(partition, mark))


def _merge(
    detector: Detector,
    operation: str,
    decoded: DecodedBatch,
    windows: list[tuple[int, WindowCounts]],
    watermark: float | None,
) -> OperationWindows:
    partition = min(decoded.partitions[operation])
    current = detector.counts.get(operation)
    restored = (
        detector.quarantine.decode(
            counts_table.NAME, operation, current, OperationWindows.from_value
        )
        if current is not None
        else None
    )
    state = restored or OperationWindows(partition)
    state.partition = partition
    state.integration = decoded.batch.integrations.get(operation) or state.integration
    last = decoded.last_call_at[operation]
    state.last_call_at = max(last, state.last_call_at or last)
    # Late means older than the retention before this batch: a batch of a backlog
    # can span hours, and its early windows are not late, only old.
    horizon = state.horizon(detector.settings.window_retention_seconds, watermark)
    for start, counts in windows:
        if horizon is not None and start < horizon:
            detector.metrics.late.inc(counts.calls)
        else:
            state.merge(start, counts)
    return state


def _count(
    detector: Detector,
    operation: str,
    integration: str | None,
    windows: list[tuple[int, WindowCounts]],
) -> None:
    labels = (operation, integration or "")
    total = WindowCounts()
    for _, counts in windows:
        total.add(counts.calls, counts.errors, counts.retries)
    detector.metrics.calls.labels(*labels).inc(total.calls)
    detector.metrics.errors.labels(*labels).inc(total.errors)
    detector.metrics.retries.labels(*labels).inc(total.retries)


async def _dead_letter(detector: Detector, invalid: list[tuple[RawRecord, DecodeError]]) -> None:
    """The original bytes go to the invalid topic; the reason and source ride in headers."""
    topic = detector.settings.calls_topic
    for record, error in invalid:
        detector.metrics.invalid.labels(error.reason).inc()
        if _LOG_LIMIT.allow(error.reason, time.monotonic()):
            log.warning(
                "dead-lettered %s[%d]@%d to %s: %s (fix the producer; the message is kept "
                "there with its reason)",
                topic,
                record.partition,
                record.offset,
                detector.settings.invalid_topic,
                error,
            )
        headers = {
            "x-detector-reason": error.reason.encode(),
            "x-detector-error": error.detail[:1000].encode(),
            "x-detector-source": f"{topic}/{record.partition}/{record.offset}".encode(),
        }
        await detector.topics.invalid.send(key=record.key, value=record.value, headers=headers)


async def _rekey(detector: Detector, misrouted: list[tuple[RawRecord, str]]) -> None:
    for record, operation in misrouted:
        detector.metrics.rekeyed.inc()
        await detector.topics.calls.send(key=operation.encode(), value=record.value)


def _observe(detector: Detector, events: list[Any], decoded: DecodedBatch) -> None:
    metrics = detector.metrics
    metrics.consumed.inc(len(events))
    metrics.batch_size.observe(len(events))
    last_offsets: dict[Any, int] = {}
    for event in events:
        tp = event.message.tp
        last_offsets[tp] = max(last_offsets.get(tp, -1), event.message.offset)
    for tp, offset in last_offsets.items():
        highwater = detector.app.consumer.highwater(tp)
        if highwater is not None:
            metrics.lag.labels(str(tp.partition)).set(max(0, highwater - offset - 1))
