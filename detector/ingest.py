"""Turning a batch of raw Kafka records into columns of counts, pure and in one pass.

Each record is decoded on its own, so one bad message costs only itself: it comes back
in ``invalid`` with its reason for the shell to dead-letter. A record whose Kafka key is
not its operation comes back in ``misrouted``: counting it here would split the
operation's counts across partitions, so the shell re-sends it with the right key.

Speed without a second set of rules: most records are a bare call (operation,
integration, status or count/errors, timestamp). For those, everything but the
timestamp repeats, so the contract's own model (``OperationCall``) validates each
distinct shape once and the verdict is remembered; the timestamp goes through the
contract's own ``parse_timestamp`` and ``event_time``. Every other record (evidence
fields, unusual types, anything invalid) is decoded by ``decode`` in full.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import ValidationError

from detector.errors import DecodeError
from detector.events import (
    LIMITS,
    UNDER_WAY,
    Limits,
    OperationCall,
    check_limits,
    decode,
    event_time,
    parse_timestamp,
)
from detector.windows import Batch

# The fields of a bare call; a record with any other field is decoded in full.
_BARE = frozenset(("operation", "integration", "status", "count", "errors", "timestamp"))
_MAX_SHAPES = 100_000  # Remembered verdicts; forgotten all at once when full.

# (operation, integration, calls, errors, retries), or None for a shape the model refuses.
Verdict = tuple[str, str | None, int, int, int] | None
Shape = tuple[Any, Any, Any, Any, Any]


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
    # The source partitions each operation's counted records came from.
    partitions: dict[str, set[int]] = field(default_factory=dict)
    last_call_at: dict[str, float] = field(default_factory=dict)
    # What the operation log keeps: calls that failed or will be retried, and every
    # status of events followed by ``event_id`` (their timelines).
    failures: list[tuple[RawRecord, OperationCall]] = field(default_factory=list)
    # By row of ``batch``: records of events followed by ``event_id`` (counted by their
    # lifecycle, ``detector.lifecycle.batch``), and (error code, message) of failed rows.
    followed: dict[int, OperationCall] = field(default_factory=dict)
    codes: dict[int, tuple[str | None, str | None]] = field(default_factory=dict)


@dataclass(slots=True)
class Shapes:
    """The model's verdict (and the ``limits``') per distinct bare-call shape: a memo of
    a pure function."""

    limits: Limits = LIMITS
    verdicts: dict[Shape, Verdict] = field(default_factory=dict)

    def verdict(self, shape: Shape) -> Verdict:
        try:
            return self.verdicts[shape]
        except KeyError:
            pass
        operation, integration, status, count, errors = shape
        fields = {"operation": operation, "integration": integration, "status": status}
        fields.update(count=count, errors=errors)
        try:
            call = OperationCall.model_validate({k: v for k, v in fields.items() if v is not None})
            check_limits(call, self.limits)
        except (ValidationError, DecodeError):
            verdict: Verdict = None
        else:
            verdict = (call.operation, call.integration, *call.tally())
        if len(self.verdicts) >= _MAX_SHAPES:
            self.verdicts.clear()
        self.verdicts[shape] = verdict
        return verdict


_SHAPES: dict[Limits, Shapes] = {}


def _bare(raw: bytes | None, fallback: float | None, shapes: Shapes) -> Any:
    """(operation, integration, ts, calls, errors, retries) of a valid bare call, else None."""
    if not raw:
        return None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if type(data) is not dict or not _BARE.issuperset(data):
        return None
    get = data.get
    shape = (get("operation"), get("integration"), get("status"), get("count"), get("errors"))
    # Only str/int/None are remembered by value: 1, 1.0 and True are equal dict keys.
    for value in shape:
        if value is not None and type(value) is not str and type(value) is not int:
            return None
    verdict = shapes.verdict(shape)
    if verdict is None:
        return None
    raw_ts = get("timestamp")
    try:
        ts = event_time(None if raw_ts is None else parse_timestamp(raw_ts), fallback)
    except (ValueError, DecodeError):
        return None
    operation, integration, calls, errors, retries = verdict
    return operation, integration, ts, calls, errors, retries


def decode_batch(
    records: list[RawRecord],
    limits: Limits = LIMITS,
    *,
    check_keys: bool = True,
    keep_failures: bool = True,
    shapes: Shapes | None = None,
) -> DecodedBatch:
    """``check_keys``: records must be keyed by their operation (a topic, not a file);
    ``keep_failures``: decode failed calls in full for the operation log."""
    if shapes is None:
        shapes = _SHAPES.setdefault(limits, Shapes(limits))
    out = DecodedBatch()
    batch = out.batch
    for record in records:
        call: OperationCall | None = None
        bare = _bare(record.value, record.timestamp, shapes)
        if bare is not None:
            operation, integration, ts, calls, errors, retries = bare
        else:
            try:
                call = decode(record.value, record.timestamp, limits)
            except DecodeError as exc:
                out.invalid.append((record, exc))
                continue
            operation, integration, ts = call.operation, call.integration, call.timestamp
            calls, errors, retries = call.tally()
            if ts is None:  # decode() fills a missing timestamp or raises.
                raise AssertionError("decode returned a call without timestamp")
        if check_keys and record.key != operation.encode():
            out.misrouted.append((record, operation))
            continue
        if call is not None and call.event_id is not None and call.count is None:
            out.followed[len(batch)] = call
            calls = errors = retries = 0  # Until its lifecycle says what it stands for.
        batch.append(operation, ts, calls, errors, retries)
        sources = out.partitions.get(operation)
        if sources is None:
            out.partitions[operation] = {record.partition}
        elif record.partition not in sources:
            sources.add(record.partition)
        if ts > out.last_call_at.get(operation, 0.0):
            out.last_call_at[operation] = ts
        if integration is not None or operation not in batch.integrations:
            batch.integrations[operation] = integration
        if call is not None and (call.event_id is not None or call.status in UNDER_WAY):
            if keep_failures and (call.status != "success" or call.event_id is not None):
                out.failures.append((record, call))  # A step of an event's timeline.
        elif errors or retries:
            if keep_failures and call is None:
                call = decode(record.value, record.timestamp, limits)
            if call is not None and keep_failures:
                out.failures.append((record, call))
            if errors:
                code = call.error_code if call is not None else None
                out.codes[len(batch) - 1] = (code, call.error_message if call else None)
                batch.error_codes.append((operation, ts, code or "unknown", errors))
    return out
