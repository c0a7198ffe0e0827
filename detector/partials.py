"""Partial counts: what one ingest batch adds to each operation's windows, and the rules
that apply each of them exactly once.

The ingest stage reads the calls topic in large batches and publishes, per batch, to
every partition of the partials topic one message (or, for a batch of many operations,
a few) holding the partial counts of the operations that partition owns (their windows,
newest event time, integration). Each message carries the calls-topic range the batch
covers per source partition (its ``Span``), and each partial the last offset per source
partition. Two rules apply them once, together with the ingest's Kafka transaction
(partials and consumed offsets commit together):

- ``follows``: per partials partition and source partition, the batches form a chain
  (each starts where the last ended), so a message the consumer dropped shows as a gap
  before the next one; the fold agent reads again from the gap instead of applying a
  later batch first. Faust drops fetched messages around a rebalance (its queues are
  cleared on resume after it has sought back), and a later batch applied first made the
  earlier one look applied: its calls were lost for good.
- ``fold``: per operation, the last offset applied per source partition, so a batch
  applied to some operations before a crash is not applied to them again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

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


@dataclass(frozen=True, slots=True)
class Span:
    """What one partials message covers: per source partition, the batch's first and last
    calls-topic offsets; the sources whose batch starts at the partition's beginning
    (nothing before it to follow); and which of the batch's messages to this partials
    partition it is (``part`` of ``parts``). A message of no batch (the ingest's
    periodic flags) has ``marks`` instead: per source partition, the last offset the
    ingest has committed, which every partials partition must have applied by then."""

    ranges: dict[int, tuple[int, int]] = field(default_factory=dict)
    starts: frozenset[int] = frozenset()
    part: int = 0
    parts: int = 1
    marks: dict[int, int] = field(default_factory=dict)


Chain = dict[int, tuple[int, int, int]]
"""Per source partition, what a partials partition has applied: the last offset of the
last batch, how many of that batch's messages, and of how many."""

Verdict = Literal["next", "seen", "gap"]


def follows(chain: Chain, span: Span) -> Verdict:
    """Whether the message of ``span`` is the next one of its sources' chains (apply it),
    one already applied (skip it), or comes after a message not applied yet (a gap:
    read again from the last message applied of the sources ``behind``)."""
    if behind(chain, span):
        return "gap"
    verdicts = {
        _verdict(chain.get(p), first, last, p, span) for p, (first, last) in span.ranges.items()
    }
    if not verdicts:
        return "next"
    return verdicts.pop() if len(verdicts) == 1 else "gap"


def behind(chain: Chain, span: Span) -> set[int]:
    """The sources of which a message before ``span`` is not applied yet."""
    late = {
        p
        for p, (first, last) in span.ranges.items()
        if _verdict(chain.get(p), first, last, p, span) == "gap"
    }
    for source, mark in span.marks.items():
        state = chain.get(source)
        if state is None or state[0] < mark or (state[0] == mark and state[1] < state[2]):
            late.add(source)
    return late


def _verdict(
    state: tuple[int, int, int] | None, first: int, last: int, source: int, span: Span
) -> Verdict:
    if state is None:  # Nothing applied from the source: only its very first batch follows.
        return "next" if source in span.starts and span.part == 0 else "gap"
    end, done, parts = state
    if last < end or (last == end and span.part < done):
        return "seen"
    if last == end:  # The batch's next message, or one after a message not applied.
        return "next" if span.part == done else "gap"
    return "next" if done >= parts and first == end + 1 and span.part == 0 else "gap"


def advance(chain: Chain, span: Span) -> None:
    """Note the message of ``span`` applied."""
    for source, (_, last) in span.ranges.items():
        chain[source] = (last, span.part + 1, span.parts)


def give_up(chain: Chain, span: Span) -> None:
    """Note what is missing before ``span`` as if applied: a gap that never filled."""
    for source in behind(chain, span):
        if source in span.ranges:
            first = span.ranges[source][0]
            chain[source] = (first - 1, 1, 1)
        else:
            chain[source] = (span.marks[source], 1, 1)


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
    items: list[Partial],
    caught_up: dict[int, bool],
    span: Span | None = None,
    budget: int = MESSAGE_BUDGET,
) -> list[bytes]:
    """The messages of the partials topic for one partition: ``items`` split so each
    holds about ``budget`` bytes (an operation's partial is never split: each is applied
    once on its own), at least one message, each with the batch's ``span`` (its part
    and parts set here), or none for the flags alone. ``caught_up``, per source
    partition: whether the ingest has read it to its end (the evaluator may then close
    windows by wall clock); every message carries it."""
    chunks: list[list[bytes]] = [[]]
    size = 0
    for item in items:
        part = orjson.dumps(item.to_json())
        if chunks[-1] and size + len(part) > budget:
            chunks.append([])
            size = 0
        chunks[-1].append(part)
        size += len(part) + 1
    flags = orjson.dumps([[p, c] for p, c in caught_up.items()])
    span = span or Span()
    ranges = orjson.dumps([[p, f, last, p in span.starts] for p, (f, last) in span.ranges.items()])
    marks = orjson.dumps(list(span.marks.items()))
    parts = len(chunks)
    return [
        b'{"c":%b,"s":%b,"m":%b,"i":%d,"k":%d,"o":[%b]}'
        % (flags, ranges, marks, i, parts, b",".join(chunk))
        for i, chunk in enumerate(chunks)
    ]


Decoded = tuple[list[Partial], dict[int, bool], Span]
"""A partials message: its partials, the ingest's caught-up flags, its span."""


def decode(raw: bytes) -> Decoded:
    data = orjson.loads(raw)
    caught_up = {int(p): bool(c) for p, c in data["c"]}
    ranges = data.get("s", [])
    span = Span(
        {int(p): (int(f), int(last)) for p, f, last, _ in ranges},
        frozenset(int(p) for p, _, _, start in ranges if start),
        int(data.get("i", 0)),
        int(data.get("k", 1)),
        {int(p): int(o) for p, o in data.get("m", [])},
    )
    return [Partial.from_json(p) for p in data["o"]], caught_up, span


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
