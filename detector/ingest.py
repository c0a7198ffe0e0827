"""Turning a batch of raw Kafka records into columns of counts, pure.

Each record is decoded on its own, so one bad message costs only itself: it comes back
in ``invalid`` with its reason for the shell to dead-letter. A record whose Kafka key is
not its operation comes back in ``misrouted``: counting it here would split the
operation's counts across partitions, so the shell re-sends it with the right key.

Speed without a second set of rules: most records are a bare call (operation,
integration, status or count/errors, timestamp). For those, everything but the
timestamp repeats, so the contract's own model (``OperationCall``) validates each
distinct shape once and the verdict is remembered; epoch timestamps are read as the
contract's ``parse_timestamp`` and ``event_time`` read them, for the whole batch at once
with numpy, other forms by those functions. The values are decoded thousands per orjson
call (``load_values``), and the rows that need nothing but their shape's verdict are
counted without a Python step each. Every other record (evidence fields, unusual types,
anything invalid) is decoded by ``decode`` in full.
"""

from __future__ import annotations

import hashlib
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from operator import itemgetter
from typing import Any

import numpy as np
import numpy.typing as npt
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
from detector.repeats import key_hash
from detector.windows import Batch

# The fields of a bare call; a record with any other field is decoded in full.
_BARE = frozenset(("operation", "integration", "status", "count", "errors", "timestamp"))
_MAX_SHAPES = 100_000  # Remembered verdicts; forgotten all at once when full.

# (operation, integration, calls, errors, retries, the call without its timestamp), or
# None for a shape the fast path leaves to ``decode`` (not bare, or refused by the model).
Verdict = tuple[str, str | None, int, int, int, OperationCall] | None
# A bare call but its timestamp: its fields and values, in order.
Shape = tuple[tuple[str, Any], ...]


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
    # By row of ``batch``, in row order: the hash of the record's id, for the records
    # sending one (``detector.repeats``); and the rows that repeat one, once marked.
    ids: dict[int, int] = field(default_factory=dict)
    repeated: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Shapes:
    """The model's verdict (and the ``limits``') per distinct bare call but its
    timestamp: a memo of a pure function. Only calls whose values are all text or
    integers are remembered, so a shape (its fields and values in order) whose values
    are equal (``1``, ``1.0`` and ``true`` are) has one verdict."""

    limits: Limits = LIMITS
    verdicts: dict[Shape, Verdict] = field(default_factory=dict)

    def verdict(self, shape: Shape, fields: dict[str, Any]) -> Verdict:
        if not _BARE.issuperset(fields) or not _plain(fields):
            return None  # Not remembered: such records vary (event ids, messages).
        try:
            call = OperationCall.model_validate(fields)
            check_limits(call, self.limits)
        except (ValidationError, DecodeError):
            verdict: Verdict = None
        else:
            verdict = (call.operation, call.integration, *call.tally(), call)
        if len(self.verdicts) >= _MAX_SHAPES:
            self.verdicts.clear()
        self.verdicts[shape] = verdict
        return verdict


def _plain(fields: dict[str, Any]) -> bool:
    return all(type(v) is str or type(v) is int for v in fields.values())


_SHAPES: dict[Limits, Shapes] = {}
_UNKNOWN: Any = object()
_MS_THRESHOLD = 1e11  # As ``parse_timestamp``: epoch numbers above this are milliseconds.
_JOINED = 4096  # Values decoded by one orjson call.


def load_values(values: Sequence[bytes | None]) -> list[Any]:
    """Each value's JSON, None where it is not JSON (or empty), decoded thousands at a
    time: one orjson call per value cost more than the decoding itself."""
    out: list[Any] = []
    for start in range(0, len(values), _JOINED):
        out += _load_joined(values[start : start + _JOINED])
    return out


def _load_joined(values: Sequence[bytes | None]) -> list[Any]:
    """The values joined into one JSON array with a separator string between each two.
    The array holds each value's own JSON only if every separator is one of its
    elements, at every other place: a value that is not one JSON document (``1,2``,
    ``[1``, ``"a``) adds, swallows or breaks a separator, and none can forge one, a hash
    of the values themselves (a value would have to hold the hash of a text holding
    it). Otherwise each half is decoded again, down to a value alone."""
    if len(values) == 1:
        try:
            return [orjson.loads(values[0] or b"null")]
        except orjson.JSONDecodeError:
            return [None]
    body = [v or b"null" for v in values]
    token = hashlib.blake2b(b"".join(body), digest_size=16).hexdigest()
    separator = b',"' + token.encode() + b'",'
    try:
        joined = orjson.loads(b"[" + separator.join(body) + b"]")
    except orjson.JSONDecodeError:
        joined = None
    n = len(values)
    if type(joined) is list and len(joined) == 2 * n - 1 and joined[1::2].count(token) == n - 1:
        return joined[::2]
    half = n // 2
    return _load_joined(values[:half]) + _load_joined(values[half:])


def _event_time(raw_ts: Any, fallback: float | None) -> float | None:
    """A bare call's event time, as ``decode`` has it; None where ``decode`` refuses it
    (the record then takes the slow path, which says why)."""
    try:
        return event_time(None if raw_ts is None else parse_timestamp(raw_ts), fallback)
    except (ValueError, DecodeError):
        return None


class _Names:
    """Strings interned to small integers, in order of first use."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.index: dict[str, int] = {}

    def of(self, name: str | None) -> int:
        if name is None:
            return -1
        i = self.index.get(name)
        if i is None:
            i = self.index[name] = len(self.names)
            self.names.append(name)
        return i


def decode_batch(
    records: Records | Sequence[RawRecord],
    limits: Limits = LIMITS,
    *,
    check_keys: bool = True,
    keep_failures: bool = True,
    shapes: Shapes | None = None,
) -> DecodedBatch:
    """``check_keys``: records must be keyed by their operation (a topic, not a file);
    ``keep_failures``: decode failed calls in full for the operation log.

    In columns: the values are decoded together (``load_values``), each record's shape
    looked up once, and a bare call with a float timestamp and the right key is counted
    by array operations alone. The few others (failures, whose log entries need a call
    each, other records, misrouted ones) take a step in Python each; the batch is then
    put together in record order."""
    if not isinstance(records, Records):
        records = Records.of(records)
    if shapes is None:
        shapes = _SHAPES.setdefault(limits, Shapes(limits))
    out = DecodedBatch()
    n = len(records)
    if not n:
        return out
    objs = load_values(records.values)
    raw_ts: list[Any] = [o.pop("timestamp", None) if type(o) is dict else None for o in objs]
    numbers, table = _number([tuple(o.items()) if type(o) is dict else () for o in objs])
    verdicts = _verdicts(shapes, table)
    sid = np.array(numbers, dtype=np.int64)
    # Values that are not text may equal others of another type (1, 1.0, true): such
    # rows keep their shape's verdict only if their own values are text or integers.
    typed = np.array([any(type(v) is not str for _, v in shape) for shape in table])
    for i in np.flatnonzero(typed[sid]).tolist():
        if not _plain(objs[i]):
            sid[i] = 0  # The empty shape: no verdict.

    ops, integrations = _Names(), _Names()
    shape_op = np.array([ops.of(v[0]) if v else -1 for v in verdicts], dtype=np.int64)
    shape_integration = np.array([integrations.of(v[1]) if v else -1 for v in verdicts])
    shape_tally = np.array([v[2:5] if v else (0, 0, 0) for v in verdicts], dtype=np.int64)
    stamps = records.timestamps
    # Epoch numbers as ``parse_timestamp`` reads them (milliseconds above _MS_THRESHOLD);
    # anything else is NaN here and read by ``_event_time`` one by one.
    nan = np.nan
    ts = np.array(
        [t if type(t) is float else float(t) if type(t) is int else nan for t in raw_ts],
        dtype=np.float64,
    )
    ts = np.where(ts > _MS_THRESHOLD, ts / 1000.0, ts)
    fallback = np.array(stamps, dtype=np.float64)  # None: NaN, which no comparison holds.
    with np.errstate(invalid="ignore"):
        fast = (shape_op[sid] >= 0) & (ts > 0) & ~(ts > fallback + MAX_FUTURE_SECONDS)
    keys = records.keys
    if check_keys:
        # Each key's operation number, -2 where it names none (shapes without one: -1).
        numbered: dict[bytes | None, int] = {op.encode(): i for i, op in enumerate(ops.names)}
        fast &= np.fromiter(map(numbered.get, keys, repeat(-2)), np.int64, n) == shape_op[sid]

    op_of = np.where(fast, shape_op[sid], -1)
    integration_of = shape_integration[sid]
    when = np.where(fast, ts, 0.0)
    tally = np.where(fast[:, None], shape_tally[sid], 0)
    # (record index, what it adds): merged in record order at the end.
    failures: list[tuple[int, RawRecord, OperationCall]] = []
    error_codes: list[tuple[int, tuple[str, float, str, int]]] = []
    codes: dict[int, tuple[str | None, str | None]] = {}
    followed: dict[int, OperationCall] = {}
    hashed: dict[int, int] = {}

    failing = fast & (tally[:, 1:].sum(axis=1) > 0)
    for i in np.flatnonzero(failing).tolist():
        operation, _, _, errors, _, bare = verdicts[sid[i]]
        t = float(ts[i])
        if keep_failures:
            failures.append((i, records.record(i), bare.model_copy(update={"timestamp": t})))
        if errors:
            codes[i] = (None, None)
            error_codes.append((i, (operation, t, "unknown", errors)))

    values, partitions = records.values, records.partitions
    for i in np.flatnonzero(~fast).tolist():
        call: OperationCall | None = None
        stamp = stamps[i]
        verdict = verdicts[sid[i]]
        if verdict is not None:
            event = _event_time(raw_ts[i], stamp)
            if event is None:
                verdict = None
            else:
                t = event
        if verdict is not None:
            operation, integration, calls, errors, retries, bare = verdict
        else:
            try:
                call = decode(values[i], stamp, limits)
            except DecodeError as exc:
                out.invalid.append((records.record(i), exc))
                continue
            operation, integration = call.operation, call.integration
            calls, errors, retries = call.tally()
            if call.timestamp is None:  # decode() fills a missing timestamp or raises.
                raise AssertionError("decode returned a call without timestamp")
            t = call.timestamp
        if check_keys and keys[i] != operation.encode():
            out.misrouted.append((records.record(i), operation))
            continue
        if call is not None and (call.event_id is not None or call.source_record is not None):
            key = key_hash(call)
            if key is not None:
                hashed[i] = key
        if call is not None and call.event_id is not None and call.count is None:
            followed[i] = call
            calls = errors = retries = 0  # Until its lifecycle says what it stands for.
        op_of[i] = ops.of(operation)
        integration_of[i] = integrations.of(integration)
        when[i] = t
        tally[i] = (calls, errors, retries)
        if call is not None and (call.event_id is not None or call.status in UNDER_WAY):
            if keep_failures and (call.status != "success" or call.event_id is not None):
                failures.append((i, records.record(i), call))  # A step of an event's timeline.
        elif errors or retries:
            if keep_failures and call is None:
                call = bare.model_copy(update={"timestamp": t})
            if call is not None and keep_failures:
                failures.append((i, records.record(i), call))
            if errors:
                code = call.error_code if call is not None else None
                codes[i] = (code, call.error_message if call else None)
                error_codes.append((i, (operation, t, code or "unknown", errors)))

    kept = op_of >= 0
    rows = np.flatnonzero(kept)
    row_of = np.cumsum(kept) - 1
    by_index = itemgetter(0)
    out.failures = [(r, c) for _, r, c in sorted(failures, key=by_index)]
    out.followed = {int(row_of[i]): call for i, call in followed.items()}
    out.codes = {int(row_of[i]): code for i, code in codes.items()}
    out.ids = {int(row_of[i]): key for i, key in hashed.items()}  # In row order.
    out.batch.error_codes = [entry for _, entry in sorted(error_codes, key=by_index)]
    if len(rows):
        _columns(out, ops.names, integrations.names, op_of[rows], integration_of[rows],
                 when[rows], tally[rows], np.asarray(partitions)[rows])  # fmt: skip
    return out


def _number(shapes: list[Shape]) -> tuple[list[int], list[Shape]]:
    """Each shape's number, and the distinct shapes in order of first appearance after
    the empty one (number 0), which a shape holding a list or an object (unhashable)
    takes. Each shape is hashed once: a tuple's hash is not cached, and hashing every
    shape three times cost a tenth of the decoding."""
    index: dict[Shape, int] = {(): 0}
    number = index.setdefault
    try:
        numbers = [number(shape, len(index)) for shape in shapes]
    except TypeError:
        numbers = [_number_of(index, shape) for shape in shapes]
    return numbers, list(index)


def _number_of(index: dict[Shape, int], shape: Shape) -> int:
    try:
        return index.setdefault(shape, len(index))
    except TypeError:
        return 0


def _verdicts(shapes: Shapes, table: list[Shape]) -> list[Verdict]:
    """The verdict of each distinct shape (the empty one, not a bare call: none)."""
    known = shapes.verdicts
    verdicts: list[Verdict] = [None]
    for shape in table[1:]:
        verdict = known.get(shape, _UNKNOWN)
        if verdict is _UNKNOWN:
            verdict = shapes.verdict(shape, dict(shape))
        verdicts.append(verdict)
    return verdicts


def _columns(
    out: DecodedBatch,
    names: list[str],
    integration_names: list[str],
    ops: npt.NDArray[np.int64],
    integrations: npt.NDArray[np.int64],
    when: npt.NDArray[np.float64],
    tally: npt.NDArray[np.int64],
    partitions: npt.NDArray[Any],
) -> None:
    """The counted rows (in record order) into ``out``: the batch's columns, with its
    operations numbered in order of first appearance, and per operation its source
    partitions, newest event time and integration (the last one given)."""
    present, first = np.unique(ops, return_index=True)
    order = present[np.argsort(first)]
    renumber = np.zeros(len(names), dtype=np.int64)
    renumber[order] = np.arange(len(order))
    ops = renumber[ops]
    batch = out.batch
    batch.names = [names[k] for k in order.tolist()]
    batch.index = {name: j for j, name in enumerate(batch.names)}
    batch.ops = ops.tolist()
    batch.timestamps = when.tolist()
    batch.calls, batch.errors, batch.retries = tally.T.tolist()
    span = int(partitions.max()) + 1
    for pair in np.unique(ops * span + partitions).tolist():
        out.partitions.setdefault(batch.names[pair // span], set()).add(pair % span)
    newest = np.full(len(order), -np.inf)
    np.maximum.at(newest, ops, when)
    out.last_call_at = {
        name: last for name, last in zip(batch.names, newest.tolist(), strict=True) if last > 0.0
    }
    given = integrations >= 0
    backwards_ops, backwards = ops[given][::-1], integrations[given][::-1]
    who, at = np.unique(backwards_ops, return_index=True)
    last = dict(zip(who.tolist(), backwards[at].tolist(), strict=True))
    batch.integrations = {
        name: integration_names[last[j]] if j in last else None
        for j, name in enumerate(batch.names)
    }
