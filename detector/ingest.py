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

from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import ValidationError

from detector.errors import DecodeError
from detector.events import (
    LIMITS,
    MAX_FUTURE_SECONDS,
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

# (operation, integration, calls, errors, retries), or None for a shape the fast path
# leaves to ``decode`` (not bare, or refused by the model).
Verdict = tuple[str, str | None, int, int, int] | None
# A bare call but its timestamp: its fields in order, and their types (1, 1.0 and True
# are equal dict keys, and only str and int values are remembered).
Shape = tuple[tuple[tuple[str, Any], ...], tuple[type, ...]]


@dataclass(frozen=True, slots=True)
class RawRecord:
    key: bytes | None
    value: bytes | None
    partition: int
    offset: int
    timestamp: float | None


@dataclass(frozen=True, slots=True)
class Records:
    """A batch of raw records in columns: the ingest reads hundreds of thousands a
    second, and an object per record would cost more than decoding it. ``record(i)``
    builds one for the few that need it (dead letters, re-keys, the operation log)."""

    keys: Sequence[bytes | None]
    values: Sequence[bytes | None]
    partitions: Sequence[int]
    offsets: Sequence[int]
    timestamps: Sequence[float | None]  # Epoch seconds of the Kafka message, if any.

    @classmethod
    def of(cls, records: Iterable[RawRecord]) -> Records:
        rows = list(records)
        return cls(
            [r.key for r in rows],
            [r.value for r in rows],
            [r.partition for r in rows],
            [r.offset for r in rows],
            [r.timestamp for r in rows],
        )

    def __len__(self) -> int:
        return len(self.values)

    def record(self, i: int) -> RawRecord:
        return RawRecord(
            self.keys[i], self.values[i], self.partitions[i], self.offsets[i], self.timestamps[i]
        )

    def without(self, keys: Container[bytes | None]) -> tuple[Records, list[RawRecord]]:
        """These records but those keyed by ``keys``, and those."""
        kept = [i for i, key in enumerate(self.keys) if key not in keys]
        if len(kept) == len(self):
            return self, []
        dropped = sorted(set(range(len(self))).difference(kept))
        return self.pick(kept), [self.record(i) for i in dropped]

    def pick(self, rows: list[int]) -> Records:
        return Records(
            [self.keys[i] for i in rows],
            [self.values[i] for i in rows],
            [self.partitions[i] for i in rows],
            [self.offsets[i] for i in rows],
            [self.timestamps[i] for i in rows],
        )


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
        items, types = shape
        fields = dict(items)
        if not _BARE.issuperset(fields):
            return None  # Not remembered: such records vary (event ids, messages).
        verdict: Verdict = None
        if all(t is str or t is int for t in types):
            try:
                call = OperationCall.model_validate(fields)
                check_limits(call, self.limits)
            except (ValidationError, DecodeError):
                pass
            else:
                verdict = (call.operation, call.integration, *call.tally())
        if len(self.verdicts) >= _MAX_SHAPES:
            self.verdicts.clear()
        self.verdicts[shape] = verdict
        return verdict


_SHAPES: dict[Limits, Shapes] = {}
_UNKNOWN: Any = object()
_MS_THRESHOLD = 1e11  # As ``parse_timestamp``: epoch numbers above this are milliseconds.


def _event_time(raw_ts: Any, fallback: float | None) -> float | None:
    """A bare call's event time, as ``decode`` has it; None where ``decode`` refuses it
    (the record then takes the slow path, which says why)."""
    if type(raw_ts) is float and 0 < raw_ts <= _MS_THRESHOLD:
        # The common case, inline: parse_timestamp and event_time would return it as is.
        if fallback is None or raw_ts <= fallback + MAX_FUTURE_SECONDS:
            return raw_ts
        return None
    try:
        return event_time(None if raw_ts is None else parse_timestamp(raw_ts), fallback)
    except (ValueError, DecodeError):
        return None


def decode_batch(
    records: Records | Sequence[RawRecord],
    limits: Limits = LIMITS,
    *,
    check_keys: bool = True,
    keep_failures: bool = True,
    shapes: Shapes | None = None,
) -> DecodedBatch:
    """``check_keys``: records must be keyed by their operation (a topic, not a file);
    ``keep_failures``: decode failed calls in full for the operation log."""
    if not isinstance(records, Records):
        records = Records.of(records)
    if shapes is None:
        shapes = _SHAPES.setdefault(limits, Shapes(limits))
    out = DecodedBatch()
    batch = out.batch
    keys, stamps, partitions = records.keys, records.timestamps, records.partitions
    last_call_at, sources_of, integrations = out.last_call_at, out.partitions, batch.integrations
    loads, verdicts = orjson.loads, shapes.verdicts
    for i, value in enumerate(records.values):
        call: OperationCall | None = None
        stamp = stamps[i]
        verdict: Verdict = None
        # The fast path, inline (it runs for nearly every record): a bare call whose
        # shape has a remembered verdict; everything else is decoded in full.
        if value:
            try:
                data = loads(value)
            except orjson.JSONDecodeError:
                data = None
            if type(data) is dict:
                raw_ts = data.pop("timestamp", None)
                try:
                    shape = (tuple(data.items()), tuple(map(type, data.values())))
                    verdict = verdicts.get(shape, _UNKNOWN)
                except TypeError:  # An unhashable value (a list, an object): not bare.
                    verdict = None
                if verdict is _UNKNOWN:
                    verdict = shapes.verdict(shape)
                if verdict is not None:
                    when = _event_time(raw_ts, stamp)
                    if when is None:
                        verdict = None
                    else:
                        ts = when
        if verdict is not None:
            operation, integration, calls, errors, retries = verdict
        else:
            try:
                call = decode(value, stamp, limits)
            except DecodeError as exc:
                out.invalid.append((records.record(i), exc))
                continue
            operation, integration = call.operation, call.integration
            calls, errors, retries = call.tally()
            if call.timestamp is None:  # decode() fills a missing timestamp or raises.
                raise AssertionError("decode returned a call without timestamp")
            ts = call.timestamp
        if check_keys and keys[i] != operation.encode():
            out.misrouted.append((records.record(i), operation))
            continue
        if call is not None and call.event_id is not None and call.count is None:
            out.followed[len(batch)] = call
            calls = errors = retries = 0  # Until its lifecycle says what it stands for.
        batch.append(operation, ts, calls, errors, retries)
        partition = partitions[i]
        sources = sources_of.get(operation)
        if sources is None:
            sources_of[operation] = {partition}
        elif partition not in sources:
            sources.add(partition)
        if ts > last_call_at.get(operation, 0.0):
            last_call_at[operation] = ts
        if integration is not None or operation not in integrations:
            integrations[operation] = integration
        if call is not None and (call.event_id is not None or call.status in UNDER_WAY):
            if keep_failures and (call.status != "success" or call.event_id is not None):
                out.failures.append((records.record(i), call))  # A step of an event's timeline.
        elif errors or retries:
            if keep_failures and call is None:
                call = decode(value, stamp, limits)
            if call is not None and keep_failures:
                out.failures.append((records.record(i), call))
            if errors:
                code = call.error_code if call is not None else None
                out.codes[len(batch) - 1] = (code, call.error_message if call else None)
                batch.error_codes.append((operation, ts, code or "unknown", errors))
    return out
