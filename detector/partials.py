"""Partial counts: what one ingest batch adds to each operation's windows, and the rule
that applies each of them exactly once.

The ingest stage reads the calls topic in large batches and publishes, per batch, one
message per destination partition holding every operation's partial counts (its windows,
newest event time, integration). Each partial carries the calls-topic offsets it covers
(per source partition, the last offset of the batch): the stateful side stores, with the
operation's windows, the last offset applied per source partition, and skips a partial
it has already applied. Together with the ingest's Kafka transaction (partials and the
consumed offsets commit together) every call is counted once, whatever crashes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from detector.ingest import DecodedBatch
from detector.lifecycle.batch import rows as lifecycle_rows
from detector.windows import OperationWindows, WindowCounts, aggregate


@dataclass(slots=True)
class Partial:
    """One operation's counts from one batch."""

    operation: str
    integration: str | None
    last_call_at: float
    # Newest event time read in the batch from the operation's source partition(s):
    # windows ending before it minus the grace are closed.
    watermark: float
    # Source partition -> last calls-topic offset of the batch there.
    sources: dict[int, int]
    windows: list[tuple[int, WindowCounts]] = field(default_factory=list)
    # Newest event time read from the source partition(s) before this batch (late events).
    read_before: float | None = None
    # The records the operation's lifecycle must see, in order (detector.lifecycle.batch).
    events: list[list[Any]] = field(default_factory=list)

    def to_json(self) -> list[Any]:
        return [
            self.operation,
            self.integration,
            self.last_call_at,
            self.watermark,
            [[p, o] for p, o in self.sources.items()],
            [[s, *w.to_list()] for s, w in self.windows],
            self.read_before,
            self.events,
        ]

    @classmethod
    def from_json(cls, raw: list[Any]) -> Partial:
        operation, integration, last, watermark, sources, windows, read_before, *events = raw
        return cls(
            str(operation),
            integration,
            float(last),
            float(watermark),
            {int(p): int(o) for p, o in sources},
            [(int(w[0]), WindowCounts.from_list(w[1:])) for w in windows],
            None if read_before is None else float(read_before),
            list(events[0]) if events else [],
        )


def partials(
    decoded: DecodedBatch,
    size: int,
    last_offsets: dict[int, int],
    read: dict[int, float] | None = None,
) -> list[Partial]:
    """Every operation's partial counts of one decoded batch; ``last_offsets`` is the
    last offset read per source partition, ``read`` the newest event time read there
    before this batch."""
    read = read or {}
    watermarks: dict[int, float] = {}
    for operation, last in decoded.last_call_at.items():
        for partition in decoded.partitions[operation]:
            watermarks[partition] = max(watermarks.get(partition, 0.0), last)
    out: dict[str, Partial] = {}
    followed = lifecycle_rows(decoded, size)
    for operation, windows in aggregate(decoded.batch, size).items():
        sources = decoded.partitions[operation]
        out[operation] = Partial(
            operation,
            decoded.batch.integrations.get(operation),
            decoded.last_call_at[operation],
            max(watermarks[p] for p in sources),
            {p: last_offsets[p] for p in sorted(sources)},
            list(windows.items()),
            read_before=max((read[p] for p in sources if p in read), default=None),
            events=followed.get(operation, []),
        )
    return list(out.values())


def by_partition(
    items: list[Partial], partition_of: Callable[[str], int]
) -> dict[int, list[Partial]]:
    out: dict[int, list[Partial]] = {}
    for item in items:
        out.setdefault(partition_of(item.operation), []).append(item)
    return out


MESSAGE_BUDGET = 512 << 10
"""Bytes of partials per message: well under the broker's default 1 MB record limit, so
a batch of many new operations is several messages, never one the broker refuses."""


def encode(
    items: list[Partial], caught_up: dict[int, bool], budget: int = MESSAGE_BUDGET
) -> list[bytes]:
    """The messages of the partials topic for one partition: ``items`` split so each
    holds about ``budget`` bytes (an operation's partial is never split: each is applied
    once on its own), at least one message. ``caught_up``, per source partition: whether
    the ingest has read it to its end (the evaluator may then close windows by wall
    clock); every message carries it."""
    head = b'{"c":' + orjson.dumps([[p, c] for p, c in caught_up.items()]) + b',"o":['
    out: list[bytes] = []
    chunk: list[bytes] = []
    size = 0
    for item in items:
        part = orjson.dumps(item.to_json())
        if chunk and size + len(part) > budget:
            out.append(head + b",".join(chunk) + b"]}")
            chunk, size = [], 0
        chunk.append(part)
        size += len(part) + 1
    out.append(head + b",".join(chunk) + b"]}")
    return out


def decode(raw: bytes) -> tuple[list[Partial], dict[int, bool]]:
    data = orjson.loads(raw)
    caught_up = {int(p): bool(c) for p, c in data["c"]}
    return [Partial.from_json(p) for p in data["o"]], caught_up


def fold(
    state: OperationWindows | None, partial: Partial, partition: int, retention: int
) -> tuple[OperationWindows, WindowCounts] | None:
    """The operation's windows with ``partial`` merged, and the counts too late to merge
    (older than the retention before the batch); None if it was already applied. A new
    operation whose every call was late has no windows: nothing to keep."""
    if state is not None and partial.sources:
        applied = state.applied
        if all(applied.get(p, -1) >= offset for p, offset in partial.sources.items()):
            return None
    if state is None:
        state = OperationWindows(partition)
    state.partition = partition
    state.integration = partial.integration or state.integration
    state.last_call_at = max(partial.last_call_at, state.last_call_at or partial.last_call_at)
    # Late means older than the retention before this batch: a batch of a backlog can
    # span hours, and its early windows are not late, only old.
    horizon = state.horizon(retention, partial.read_before)
    late = WindowCounts()
    for start, counts in partial.windows:
        if horizon is not None and start < horizon:
            late.add(counts.calls, counts.errors, counts.retries)
        else:
            state.merge(start, counts)
    for source, offset in partial.sources.items():
        state.applied[source] = max(offset, state.applied.get(source, -1))
    return state, late
