"""Event-time tumbling windows: their counts, which of them are closed, and the batch
aggregation that fills them. The one home of window rules for live ingest, the
evaluator's timer and offline replay.

A batch of decoded calls becomes one count per (operation, window start) with numpy,
so the cost per event is a few array operations, not a Python loop over dicts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from detector import stored

# How many distinct error codes a window keeps; the rest are summed under "other".
MAX_ERROR_CODES = 8


@dataclass(slots=True)
class WindowCounts:
    """Calls in one window of one operation. ``errors`` and ``retries`` are among ``calls``.
    ``repeats``: messages whose id repeats one the operation sent recently, ``looped``
    those of them sent for the ``detector.repeats.LOOP``-th time or more (a resend loop's
    evidence, ``detector.repeats``); stored only when not zero."""

    calls: int = 0
    errors: int = 0
    retries: int = 0
    error_codes: dict[str, int] = field(default_factory=dict)
    repeats: int = 0
    looped: int = 0

    def add(self, calls: int, errors: int, retries: int) -> None:
        self.calls += calls
        self.errors += errors
        self.retries += retries

    def merge(self, other: WindowCounts) -> None:
        """Add ``other``'s counts and error codes."""
        self.add(other.calls, other.errors, other.retries)
        self.add_codes(other.error_codes)
        self.repeats += other.repeats
        self.looped += other.looped

    def add_codes(self, codes: Mapping[str, int]) -> None:
        for code, n in codes.items():
            if code in self.error_codes or len(self.error_codes) < MAX_ERROR_CODES:
                self.error_codes[code] = self.error_codes.get(code, 0) + n
            else:
                self.error_codes["other"] = self.error_codes.get("other", 0) + n

    def to_list(self) -> list[object]:
        if self.repeats or self.looped:
            return [self.calls, self.errors, self.retries, self.error_codes, self.repeats,
                    self.looped]  # fmt: skip
        return [self.calls, self.errors, self.retries, self.error_codes]

    @classmethod
    def from_list(cls, raw: Sequence[Any]) -> WindowCounts:
        """A stored window; ``ValueError`` for anything else (see ``detector.stored``)."""
        if not isinstance(raw, list | tuple) or len(raw) not in (4, 6):
            raise ValueError("window: expected [calls, errors, retries, error codes]")
        if len(raw) == 6:
            out = cls.from_list(raw[:4])
            out.repeats = stored.count(raw[4], "window repeats")
            out.looped = stored.count(raw[5], "window looped")
            return out
        calls, errors, retries, codes = raw
        if (  # The common case, checked inline: this runs for every window restored.
            type(calls) is int
            and type(errors) is int
            and type(retries) is int
            and 0 <= calls <= stored.MAX_STORED
            and 0 <= errors <= stored.MAX_STORED
            and 0 <= retries <= stored.MAX_STORED
            and type(codes) is dict
            and not codes
        ):
            return cls(calls, errors, retries, {})
        return cls(
            stored.count(calls, "window calls"),
            stored.count(errors, "window errors"),
            stored.count(retries, "window retries"),
            dict(stored.code_counts(codes, "window error codes", MAX_ERROR_CODES + 1)),
        )


def window_start(ts: float, size: int) -> int:
    return int(ts // size) * size


def closed_until(
    size: int, grace: float, event_time: float, wall_clock: float | None = None
) -> int:
    """The boundary up to which windows are complete: every window ending at or before it
    can be judged.

    Reading a backlog (``wall_clock`` None), time is the newest event time read; caught up
    with the broker, the wall clock too (silence has no events, so event time alone would
    never close a window). ``grace`` waits for late events; at the end of a file, where
    nothing more can arrive, it is 0.
    """
    now = event_time if wall_clock is None else max(event_time, wall_clock)
    return window_start(now - grace, size)


@dataclass(slots=True)
class OperationWindows:
    """One operation's windows still within the retention: the ``window-counts`` value.

    ``partition`` is where the operation's state lives (its changelog partition);
    ``last_call_at`` the newest event time counted; ``applied`` the last calls-topic
    offset counted per source partition (``detector.partials``: each call counted once).
    """

    partition: int
    integration: str | None = None
    windows: dict[int, WindowCounts] = field(default_factory=dict)
    last_call_at: float | None = None
    applied: dict[int, int] = field(default_factory=dict)

    @property
    def newest(self) -> int | None:
        return max(self.windows) if self.windows else None

    def horizon(self, retention: int, watermark: float | None = None) -> int | None:
        """Windows starting before this are closed for good; their events are late.

        ``watermark``, the newest event time already read from the operation's
        partition, bounds a new operation too: its first call stamped 1970 is late, not
        the start of 56 years of windows to judge."""
        marks = [m for m in (self.newest, watermark) if m is not None]
        return int(max(marks)) - retention if marks else None

    def merge(self, start: int, counts: WindowCounts) -> None:
        current = self.windows.get(start)
        if current is None:
            self.windows[start] = counts
        else:
            current.merge(counts)

    def expire(self, retention: int) -> None:
        horizon = self.horizon(retention)
        if horizon is not None:
            self.windows = {s: w for s, w in self.windows.items() if s >= horizon}

    def to_value(self) -> dict[str, Any]:
        return {
            "p": self.partition,
            "i": self.integration,
            "t": self.last_call_at,
            "w": {str(s): w.to_list() for s, w in self.windows.items()},
            "a": {str(p): o for p, o in self.applied.items()},
        }

    @classmethod
    def from_value(cls, value: dict[str, Any]) -> OperationWindows:
        """A stored value; ``ValueError`` for anything else (see ``detector.stored``)."""
        stored.mapping(value, "window counts")
        windows = {
            stored.count(int(s), "window start"): WindowCounts.from_list(w)
            for s, w in stored.mapping(value.get("w"), "windows").items()
        }
        applied = {
            stored.count(int(p), "source partition"): stored.count(o, "applied offset")
            for p, o in stored.mapping(value.get("a", {}), "applied offsets").items()
        }
        integration, last = value.get("i"), value.get("t")
        return cls(
            stored.count(value.get("p"), "partition"),
            None if integration is None else stored.text(integration, "integration"),
            windows,
            None if last is None else stored.number(last, "last call"),
            applied,
        )


@dataclass(slots=True)
class Batch:
    """Decoded calls of one batch in columns; the input of ``aggregate``.

    Operations are interned to small integers as they are appended, so aggregation
    sorts integers, not strings.
    """

    names: list[str] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)
    ops: list[int] = field(default_factory=list)
    timestamps: list[float] = field(default_factory=list)
    calls: list[int] = field(default_factory=list)
    errors: list[int] = field(default_factory=list)
    retries: list[int] = field(default_factory=list)
    # (operation, window-independent timestamp, code, n) of the failed records only.
    error_codes: list[tuple[str, float, str, int]] = field(default_factory=list)
    # The integration each operation was last seen with (None if never given).
    integrations: dict[str, str | None] = field(default_factory=dict)
    # (operation, timestamp, 1: a repeat, 2: looped) of the records repeating an id, in
    # row order (``detector.repeats.Memory.mark``).
    repeats: list[tuple[str, float, int]] = field(default_factory=list)

    def append(self, operation: str, ts: float, calls: int, errors: int, retries: int) -> None:
        op = self.index.get(operation)
        if op is None:
            op = self.index[operation] = len(self.names)
            self.names.append(operation)
        self.ops.append(op)
        self.timestamps.append(ts)
        self.calls.append(calls)
        self.errors.append(errors)
        self.retries.append(retries)

    def __len__(self) -> int:
        return len(self.ops)


@dataclass(slots=True)
class Sums:
    """A batch summed per (operation, window), in flat lists (``sums``): cheap to send
    to another process; ``windows`` makes the ``WindowCounts`` of it."""

    size: int = 60
    operations: list[str] = field(default_factory=list)  # Their windows in this order.
    cuts: list[int] = field(default_factory=list)  # Where each operation's windows begin.
    starts: list[int] = field(default_factory=list)
    calls: list[int] = field(default_factory=list)
    errors: list[int] = field(default_factory=list)
    retries: list[int] = field(default_factory=list)
    error_codes: list[tuple[str, float, str, int]] = field(default_factory=list)
    repeats: list[tuple[str, float, int]] = field(default_factory=list)

    def windows(self) -> dict[str, dict[int, WindowCounts]]:
        size, starts = self.size, self.starts
        if not starts:
            return {}
        counts = list(map(WindowCounts, self.calls, self.errors, self.retries))
        ends = [*self.cuts[1:], len(starts)]
        out = {
            operation: dict(zip(starts[a:b], counts[a:b], strict=True))
            for operation, a, b in zip(self.operations, self.cuts, ends, strict=True)
        }
        for operation, ts, code, n in self.error_codes:
            out[operation][window_start(ts, size)].add_codes({code: n})
        for operation, ts, level in self.repeats:
            window = out[operation][window_start(ts, size)]
            window.repeats += 1
            window.looped += level > 1
        return out


def aggregate(batch: Batch, size: int) -> dict[str, dict[int, WindowCounts]]:
    """Sum a batch into one ``WindowCounts`` per window start, per operation."""
    return sums(batch, size).windows()


def sums(batch: Batch, size: int) -> Sums:
    """Sum a batch per (operation, window start).

    Records are sorted by (operation, window) and summed per run with ``reduceat``:
    exact int64 sums (``bincount`` sums in float64, which rounds above 2^53). Counts per
    record are bounded by ``Limits.max_count``, so a batch's sums stay far inside int64.
    """
    if not batch:
        return Sums(size)
    ops = np.asarray(batch.ops, dtype=np.int64)
    slots = (np.asarray(batch.timestamps, dtype=np.float64) // size).astype(np.int64)
    low = int(slots.min())
    span = int(slots.max()) - low + 1
    keys = ops * span + (slots - low)
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    runs = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    heads = keys[runs]
    op_of = heads // span
    cuts: list[int] = np.flatnonzero(np.r_[True, op_of[1:] != op_of[:-1]]).tolist()
    return Sums(
        size,
        [batch.names[op] for op in op_of[cuts].tolist()],
        cuts,
        ((heads % span + low) * size).tolist(),
        _sums(batch.calls, order, runs),
        _sums(batch.errors, order, runs),
        _sums(batch.retries, order, runs),
        batch.error_codes,
        batch.repeats,
    )


def _sums(values: list[int], order: npt.NDArray[np.intp], runs: npt.NDArray[np.intp]) -> list[int]:
    sums: list[int] = np.add.reduceat(np.asarray(values, dtype=np.int64)[order], runs).tolist()
    return sums
