"""Offline replay: the live worker's decisions, reproduced from a file of events.

Lines are decoded and counted in blocks by the ingest's own batch path
(``detector.ingest.decode_batch``, ``detector.windows.aggregate``, the lifecycle rows of
``detector.lifecycle.batch``), so a replay costs about what the worker pays per event.
Event time is the newest timestamp read; whenever it enters a new window, every known
operation is advanced to that window's start with the same ``Engine.advance`` the
worker's evaluator calls, which is what the worker does while it reads a backlog. An
event for a window already judged (out of timestamp order) is late: not counted, though
its lifecycle still moves on. The lifecycles see their records in file order on the
counting side (``Counting``), which sends their snapshots with the block: those of
record by record, whenever the advances come. An operation's integration is the last
one given within each block, as the worker takes it per batch. At the end, operations
are advanced to the start of the last event's window, not beyond: what comes after
the file is unknown.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice

import numpy as np
import numpy.typing as npt
import orjson

from detector.baseline import Baseline, Calendar, hour_kind, local_midnight
from detector.cardinality import Roster
from detector.engine import DORMANT_SECONDS, Engine
from detector.errors import DecodeError
from detector.events import LIMITS, Limits, OperationCall
from detector.ingest import DecodedBatch, Records, decode_batch
from detector.lifecycle import batch as lifecycle_batch
from detector.lifecycle.tracker import Lifecycle, Policy, Snapshot
from detector.opconfig import DetectionConfig
from detector.repeats import Memory
from detector.shared import error_clump_pool, hour_factors, sibling_shifts, weekend_evidence
from detector.state import OperationState
from detector.status import StatusChange
from detector.windows import Batch, Sums, WindowCounts, closed_until, sums

BLOCK = 1 << 15  # Lines decoded together: big enough for numpy, small enough for memory.


@dataclass
class ReplayStats:
    calls: int = 0
    events: int = 0
    late: int = 0  # Events for a window already judged (out of timestamp order).
    operations: set[str] = field(default_factory=set)
    newest: float = 0.0  # The newest event time read: where the replayed history ends.


def decode_lines(
    lines: Sequence[bytes], first: int, limits: Limits = LIMITS, roster: Roster | None = None
) -> DecodedBatch:
    """A block of JSON lines (numbered from ``first``) decoded as the ingest decodes a
    batch; blank lines are skipped. Each invalid line is in ``invalid`` with its line
    number as the record's offset, in line order, and so is every line of a new
    operation past the caps of ``roster`` (``too_many_operations``, as the worker
    refuses it)."""
    values: Sequence[bytes] = lines
    numbers: Sequence[int] = range(first, first + len(lines))
    if any(map(bytes.isspace, lines)):
        rows = [i for i, line in enumerate(lines) if not line.isspace()]
        values, numbers = [lines[i] for i in rows], [first + i for i in rows]
    n = len(values)
    records = Records([None] * n, values, [0] * n, numbers, [None] * n)
    decoded = decode_batch(records, limits, check_keys=False, keep_failures=False)
    batch = decoded.batch
    refused = {} if roster is None else roster.refuse(batch.names, batch.integrations)
    if not refused:
        return decoded
    bad = {record.offset for record, _ in decoded.invalid}
    counted = [i for i in range(n) if records.offsets[i] not in bad]  # Batch row -> record.
    dropped = {counted[r] for r, op in enumerate(batch.ops) if batch.names[op] in refused}
    again = decode_batch(
        records.pick([i for i in counted if i not in dropped]),
        limits,
        check_keys=False,
        keep_failures=False,
    )
    again.invalid = decoded.invalid + [
        (records.record(i), DecodeError("too_many_operations", refused[batch.names[op]]))
        for i, op in zip(counted, batch.ops, strict=True)
        if i in dropped
    ]
    again.invalid.sort(key=lambda item: item[0].offset)
    return again


def replay(
    calls: Iterable[OperationCall],
    config: DetectionConfig,
    window_seconds: int = 60,
    stats: ReplayStats | None = None,
    grace: float = 0.0,
) -> Iterator[StatusChange]:
    """Replay decoded calls (in timestamp order), as ``detector replay`` does their lines."""
    run = Replay(config, window_seconds, stats, grace)
    it = iter(calls)
    while block := list(islice(it, BLOCK)):
        lines = [orjson.dumps(call.model_dump(exclude_none=True)) for call in block]
        yield from run.feed(decode_lines(lines, 1))
    yield from run.finish()


@dataclass
class Block:
    """A decoded block counted as far as it can be without the detection state
    (``Counting.count``), in flat lists: another process can prepare the next block
    while the engine judges this one, and send it cheaply."""

    names: list[str]  # The operations of the block's valid lines, in order of appearance.
    integrations: dict[str, str | None]
    rows: int  # Valid lines.
    sums: Sums  # The counted (not late) rows and followed events, per (operation, window).
    snapshots: dict[str, dict[int, Snapshot]]  # Taken by the lifecycles since the last block.
    boundaries: list[int]  # The new boundaries the block reaches, in order.
    events: int
    calls: int
    newest: float
    judged: int  # The boundary reached at its end.


class Counting:
    """The counting side of one replay: decoded blocks, in file order, into ``Block``s.
    It needs the event times read so far, the ids recently sent and the operations'
    lifecycles, not the detection state: a lifecycle reads nothing the engine decides,
    and its snapshot of a boundary is the same however its closes fall (it takes it
    before a record past the boundary changes it), so it sees the whole block, then is
    closed to the block's last boundary."""

    def __init__(
        self, config: DetectionConfig, window_seconds: int = 60, grace: float = 0.0
    ) -> None:
        self.config = config
        self.size = window_seconds
        self.grace = grace
        self.newest = 0.0  # The newest event time read.
        self.judged: int | None = None  # The boundary every operation is advanced to.
        self.ids = Memory()  # Recent ids per operation, as the worker's ingest keeps them.
        self.integrations: dict[str, str] = {}
        # Per operation: its lifecycle, its policy (the rule its first block gives, as
        # ``Engine.rule`` keeps it) and the boundary its snapshots were sent up to.
        self.lifecycles: dict[str, tuple[Lifecycle, Policy]] = {}
        self.sent: dict[str, int | None] = {}

    def count(self, decoded: DecodedBatch) -> Block | None:
        batch, size = decoded.batch, self.size
        n = len(batch)
        if not n:
            return None
        self.ids.mark(decoded)
        for operation, integration in batch.integrations.items():
            if integration is not None:
                self.integrations[operation] = integration
        for operation in batch.names:
            if operation not in self.lifecycles:
                rule = self.config.rule_for(operation, self.integrations.get(operation))
                policy = Policy.of(rule, size, self.config.zone)
                self.lifecycles[operation] = Lifecycle(), policy
                self.sent[operation] = None
        ts = np.asarray(batch.timestamps, dtype=np.float64)
        newest = np.maximum.accumulate(np.maximum(ts, self.newest))
        # After each event: the boundary up to which windows are closed, and before it.
        until = ((newest - self.grace) // size).astype(np.int64) * size
        before = np.empty(n, dtype=np.int64)
        before[0] = until[0] if self.judged is None else self.judged
        before[1:] = until[:-1]
        late = (ts // size).astype(np.int64) * size < before
        counted = _counted(decoded, late)
        events, calls = len(counted), sum(counted.calls)
        followed = self._see(decoded, late, before)
        points = np.flatnonzero(until > before)
        self.newest, self.judged = float(newest[-1]), int(until[-1])
        return Block(list(batch.names), batch.integrations, n,
                     sums(_joined(counted, followed), size), self._close(self.judged),
                     until[points].tolist(), events, calls + sum(followed.calls),
                     self.newest, self.judged)  # fmt: skip

    def finish(self) -> Block | None:
        """The file has ended, so no grace: the snapshots up to the last event's window
        (``Replay.finish`` advances there); None if there are none to send."""
        if self.judged is None:
            return None
        snapshots = self._close(closed_until(self.size, 0.0, self.newest))
        if not snapshots:
            return None
        return Block([], {}, 0, Sums(self.size), snapshots, [], 0, 0, self.newest, self.judged)

    def _see(
        self, decoded: DecodedBatch, late: npt.NDArray[np.bool_], before: npt.NDArray[np.int64]
    ) -> Batch:
        """The lifecycles take in the block's rows they must see (``lifecycle.batch.kept``),
        in order; what their followed events count (not late) comes back as a batch.
        A late record is seen after its operation is closed to the boundary judged
        before it (its window's snapshot was taken and judged)."""
        batch, out = decoded.batch, Batch()
        names, ops, errors, followed = batch.names, batch.ops, batch.errors, decoded.followed
        lives = [self.lifecycles[name] for name in names]
        lates, befores = late.tolist(), before.tolist()
        for i in sorted(lifecycle_batch.kept(decoded, self.size)):
            life, policy = lives[ops[i]]
            if (
                life.streak is None
                and not life.retrying
                and life.checked is not None
                and not errors[i]
                and i not in followed
            ):
                continue  # A success with no run of failures to end: it changes nothing.
            row = lifecycle_batch.row(decoded, i)
            if lates[i]:
                life.close(befores[i], policy)
            calls, errors_, retries = lifecycle_batch.see(life, row, policy)
            if (calls or errors_ or retries) and not lates[i]:
                operation, ts = names[ops[i]], batch.timestamps[i]
                out.append(operation, ts, calls, errors_, retries)
                if errors_:
                    out.error_codes.append((operation, ts, row[4] or "unknown", errors_))
        return out

    def _close(self, until: int) -> dict[str, dict[int, Snapshot]]:
        """Every lifecycle closed to ``until``: the snapshots not sent yet, by operation."""
        out: dict[str, dict[int, Snapshot]] = {}
        for operation, (life, policy) in self.lifecycles.items():
            life.close(until, policy)
            sent = self.sent[operation]
            taken = {b: s for b, s in life.pending.items() if sent is None or b > sent}
            if taken:
                out[operation] = taken
            if life.checked is not None:
                self.sent[operation] = life.checked
            life.judged(until)
        return out


class Replay:
    """One replay, fed decoded blocks of lines in file order (``feed``), or blocks
    counted already, perhaps in another process (``apply``)."""

    def __init__(
        self,
        config: DetectionConfig,
        window_seconds: int = 60,
        stats: ReplayStats | None = None,
        grace: float = 0.0,
    ) -> None:
        self.run = _Run(Engine(config, window_seconds))
        self.size = window_seconds
        self.counting = Counting(config, window_seconds, grace)
        self.stats = stats if stats is not None else ReplayStats()
        self.judged: int | None = None  # The boundary every operation has been advanced to.

    def feed(self, decoded: DecodedBatch) -> Iterator[StatusChange]:
        block = self.counting.count(decoded)
        if block is not None:
            yield from self.apply(block)

    def apply(self, block: Block) -> Iterator[StatusChange]:
        run, stats = self.run, self.stats
        for operation in block.names:
            if operation not in run.windows:
                run.windows[operation], run.states[operation] = {}, None
                run.snapshots[operation] = {}
                stats.operations.add(operation)
        for operation, integration in block.integrations.items():
            if integration is not None:
                run.integrations[operation] = integration
        for operation in block.names:  # Its rule, with the integration its first block gives.
            run.engine.rule(operation, run.integrations.get(operation))
        for operation, windows in block.sums.windows().items():
            own = run.windows[operation]
            for start in own.keys() & windows.keys():  # A window the last block began.
                own[start].merge(windows.pop(start))
            own.update(windows)
        for operation, taken in block.snapshots.items():
            run.snapshots[operation].update(taken)
        stats.events += block.events
        stats.calls += block.calls
        stats.late += block.rows - block.events
        stats.newest = block.newest
        boundaries = block.boundaries
        group: list[int] = []  # Boundaries to advance to, in one go (``_Run.steady``).
        horizon: int | None = None
        for k, boundary in enumerate(boundaries):
            if not group:
                horizon = run.steady()
            group.append(boundary)
            if horizon is None or boundary >= horizon or k == len(boundaries) - 1:
                yield from run.advance_all(group)
                group = []
        self.judged = block.judged

    def finish(self) -> Iterator[StatusChange]:
        """The file has ended: nothing late can arrive, so no grace. The lifecycles of
        blocks counted here are closed there first; a reader elsewhere sends its
        ``Counting.finish`` as a last block."""
        tail = self.counting.finish()
        if tail is not None:
            yield from self.apply(tail)
        if self.judged is not None:
            yield from self.run.advance_all([closed_until(self.size, 0.0, self.stats.newest)])


def _counted(decoded: DecodedBatch, late: npt.NDArray[np.bool_]) -> Batch:
    """The batch but its late rows."""
    batch = decoded.batch
    if not late.any():
        return batch
    out = Batch()
    names = batch.names
    for i in np.flatnonzero(~late).tolist():
        out.append(names[batch.ops[i]], batch.timestamps[i], batch.calls[i], batch.errors[i],
                   batch.retries[i])  # fmt: skip
    # The error codes are those of the rows with errors, in row order.
    failed = sorted(decoded.codes)
    out.error_codes = [
        entry for entry, row in zip(batch.error_codes, failed, strict=True) if not late[row]
    ]
    out.repeats = [
        entry for entry, row in zip(batch.repeats, decoded.repeated, strict=True) if not late[row]
    ]
    for operation in out.names:
        out.integrations[operation] = batch.integrations.get(operation)
    return out


def _joined(counted: Batch, followed: Batch) -> Batch:
    """The counted rows, then what the followed events count: their error codes come
    after the rows' in each window, as when the lifecycles counted into the windows."""
    if not followed:
        return counted
    out = Batch(list(counted.names), dict(counted.index), counted.ops[:],
                counted.timestamps[:], counted.calls[:], counted.errors[:], counted.retries[:],
                counted.error_codes + followed.error_codes, counted.integrations,
                counted.repeats)  # fmt: skip
    names = followed.names
    rows = zip(followed.ops, followed.timestamps, followed.calls, followed.errors,
               followed.retries, strict=True)  # fmt: skip
    for op, ts, calls, errors, retries in rows:
        out.append(names[op], ts, calls, errors, retries)
    return out


@dataclass
class _Run:
    """Every operation's windows, lifecycle snapshots and detection state during one
    replay."""

    engine: Engine
    states: dict[str, OperationState | None] = field(default_factory=dict)
    integrations: dict[str, str | None] = field(default_factory=dict)
    windows: dict[str, dict[int, WindowCounts]] = field(default_factory=dict)
    snapshots: dict[str, dict[int, Snapshot]] = field(default_factory=dict)  # Not judged yet.
    judged: int | None = None  # The boundary of the last advance.

    def steady(self) -> int | None:
        """The next hour's end if every operation can be advanced through several
        boundaries before it in one go, as if one at a time with ``settle_all`` after
        each: nothing waits to be settled, and none can wake from dormancy (its first
        window closes an hour mid-way, ``Baseline.learn``); only an hour's end
        gives an hour to settle. None otherwise."""
        if self.judged is None:
            return None
        horizon = (self.judged // 3600 + 1) * 3600
        for state in self.states.values():
            if state is not None and (
                state.baseline.pending
                or horizon - (state.last_call_boundary or state.first_boundary) >= DORMANT_SECONDS
            ):
                return None
        return horizon

    def advance_all(self, untils: list[int]) -> list[StatusChange]:
        """Every operation advanced to each of ``untils`` in turn (more than one only
        when ``steady``), then settled; the changes in the order that makes."""
        until = untils[-1]
        # Windows are counted from the last boundary on (earlier events are late), and
        # later blocks' are counted already: drop the judged ones without a scan.
        size, since = self.engine.window, self.judged
        span = None if since is None else range(since, until, size)
        found: list[tuple[int, int, StatusChange]] = []
        for rank, (operation, state) in enumerate(self.states.items()):
            own, snaps = self.windows[operation], self.snapshots[operation]
            integration = self.integrations.get(operation)
            state, changes = self.engine.advance(state, operation, integration, own, until, snaps)
            if snaps:
                for boundary in [b for b in snaps if b <= until]:
                    del snaps[boundary]
            self.states[operation] = state
            for change in changes:
                # Judged with the window ending at ``at`` (a new operation's: starting).
                end = int(change.at.timestamp()) + (size if change.previous is None else 0)
                found.append((bisect_left(untils, end), rank, change))
            if span is None or len(span) > len(own):
                for start in [s for s in own if s < until]:
                    del own[start]
            else:
                for start in span:
                    own.pop(start, None)
        self.judged = until
        settle_all(self.engine, self.states)
        if len(untils) > 1:
            found.sort(key=lambda item: item[:2])
        return [change for *_, change in found]


def settle_all(engine: Engine, states: Mapping[str, OperationState | None]) -> None:
    """Once every operation passed an hour's end: judge their hours against the
    business-wide factor of each (``detector.shared``), shifted by the operation's
    learned share of its integration siblings' shift, as the live evaluator does."""
    waiting = {op: st for op, st in states.items() if st is not None and st.baseline.pending}
    if not waiting:
        return
    voters = [st.baseline for st in waiting.values() if st.baseline.votes]
    factors = hour_factors(
        (b.pending for b in voters),
        (st.baseline.pending for st in waiting.values() if not st.baseline.votes),
    )
    holiday = weigh_holiday(voters, sorted(factors), engine.calendar)
    pool = error_clump_pool(st.baseline.error_clumps for st in states.values() if st is not None)
    for state in states.values():
        if state is not None:
            state.baseline.holiday = list(holiday)
            state.baseline.clump_pool = pool
    shifts = sibling_shifts(
        (
            (op, st.integration, st.baseline.pending)
            for op, st in waiting.items()
            if not st.baseline.machine
        ),
        factors,
    )
    for operation, state in waiting.items():
        own = shifts.get(operation)
        if not own:
            engine.settle(state, operation, factors.get)
            continue
        beta = state.baseline.sibling_beta  # As learned before these hours.
        for x, y, learn in own.values():
            if learn:
                state.baseline.learn_sibling(x, y)
        engine.settle(state, operation, _shifted(factors, own, beta))


def _shifted(
    factors: dict[int, float], own: dict[int, tuple[float, float, bool]], beta: float
) -> Callable[[int], float | None]:
    """An operation's factor of each hour: the business-wide one, plus ``beta`` of its
    siblings' shift where it has siblings that hour (None: the hour is not known yet)."""

    def factor_of(hour: int) -> float | None:
        base = factors.get(hour)
        if base is None or hour not in own:
            return base
        return base + beta * own[hour][0]

    return factor_of


def weigh_holiday(voters: list[Baseline], hours: list[int], calendar: Calendar) -> list[float]:
    """The day's evidence that the business follows its weekend profile on a weekday
    (``Baseline.holiday``), carried on from the voters' newest record and added to with
    every closed weekday hour not counted yet (``shared.weekend_evidence``). A day
    without a record (too few operations to judge a business) is never doubted."""
    newest = max((b.holiday for b in voters), key=lambda h: (h[0], h[2]), default=None)
    day, evidence, counted = newest or (0.0, 0.0, 0.0)
    for hour in hours:
        if hour <= counted or hour_kind(hour, calendar)[0]:
            continue
        found = weekend_evidence(
            (entry[1], entry[4], entry[5], entry[6], entry[7], b.down[0], b.dispersion)
            for b in voters
            for entry in b.pending
            if entry[0] == hour and len(entry) == 8
        )
        if found is None:
            continue  # Too few operations to say: the day has no record (no doubt).
        midnight = local_midnight(hour, calendar.zone)
        if midnight != day:
            day, evidence = midnight, 0.0
        evidence += found
        counted = hour
    return [day, evidence, counted]
