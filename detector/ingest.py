"""Turning a batch of raw Kafka records into columns of counts, pure and in one pass.

Each record is decoded on its own, so one bad message costs only itself: it comes back
in ``invalid`` with its reason for the shell to dead-letter. A record whose Kafka key is
not its operation comes back in ``misrouted``: counting it here would split the
operation's counts across partitions, so the shell re-sends it with the right key.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from detector.errors import DecodeError
from detector.events import LIMITS, Limits, OperationCall, decode
from detector.windows import Batch


@dataclass(frozen=True, slots=True)
class RawRecord:
    key: bytes | None
    value: bytes | None
    partition: int
    offset: int
    timestamp: float | None


@dataclass(slots=True)
class DecodedBatch:
    batch: Batch = field(default_factory=Batch)
    invalid: list[tuple[RawRecord, DecodeError]] = field(default_factory=list)
    misrouted: list[tuple[RawRecord, str]] = field(default_factory=list)
    partitions: dict[str, int] = field(default_factory=dict)
    integrations: dict[str, str | None] = field(default_factory=dict)
    last_call_at: dict[str, float] = field(default_factory=dict)
    # Calls that failed or will be retried: the operation log keeps them.
    failures: list[tuple[RawRecord, OperationCall]] = field(default_factory=list)


def decode_batch(records: list[RawRecord], limits: Limits = LIMITS) -> DecodedBatch:
    out = DecodedBatch()
    for record in records:
        try:
            call = decode(record.value, record.timestamp, limits)
        except DecodeError as exc:
            out.invalid.append((record, exc))
            continue
        operation = call.operation
        if record.key != operation.encode():
            out.misrouted.append((record, operation))
            continue
        calls, errors, retries = call.tally()
        ts = call.timestamp
        assert ts is not None  # decode() fills a missing timestamp or raises.
        out.batch.append(operation, ts, calls, errors, retries)
        out.partitions[operation] = record.partition
        if ts > out.last_call_at.get(operation, 0.0):
            out.last_call_at[operation] = ts
        if call.integration is not None or operation not in out.integrations:
            out.integrations[operation] = call.integration
        if errors or retries:
            out.failures.append((record, call))
            if errors:
                out.batch.error_codes.append((operation, ts, call.error_code or "unknown", errors))
    return out
