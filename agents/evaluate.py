"""The evaluator: a timer that advances every local operation's detection state to its
last closed window, publishes status changes, and refreshes the dashboard summary.

Driven by a timer, not by arriving events: silence has no events. Per partition, a
window is closed when the wall clock passed its end plus the grace period (caught up),
or when the event time already read passed its end (reading a backlog), so a worker
replaying history makes the same decisions as ``detector replay``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from agents.progress import CatchUp, recovered
from agents.trim import Trimmer
from detector import checkpoints
from detector.cardinality import idle
from detector.replay import settle_all
from detector.state import OperationState
from detector.status import StatusChange
from detector.summary import OperationSummary, refresh
from detector.windows import OperationWindows, closed_until
from tables import counts as counts_table
from tables import models as models_table
from tables import summaries as summaries_table
from tables.writes import delete, drain, put

if TYPE_CHECKING:
    from agents.context import Detector

log = logging.getLogger(__name__)
_YIELD_EVERY = 500  # Operations judged between yields to the event loop.


def register(detector: Detector) -> None:
    catch_up = CatchUp(detector.settings.evaluation_interval)
    trimmer = Trimmer()

    async def judge(operation: str, windows: OperationWindows, until: int, now: float) -> None:
        await advance_operation(detector, operation, windows, until, now)

    detector.judge = judge

    @detector.app.timer(detector.settings.evaluation_interval, name="evaluate")
    async def evaluate() -> None:
        judged = await evaluate_all(detector, catch_up, time.time())
        trimmer.after(judged, time.monotonic())


def _until(
    detector: Detector, catch_up: CatchUp, partition: int, watermark: float, now: float
) -> int:
    """Where this partition's windows are closed: by wall clock once caught up, by the
    event time read while reading a backlog."""
    settings = detector.settings
    # Heard within three intervals: the ingest says where it stands every interval.
    fresh = 3 * settings.evaluation_interval
    caught_up = catch_up.check(partition, detector.progress.caught_up(partition, now, fresh), now)
    wall_clock = now if caught_up else None
    return closed_until(settings.window_seconds, settings.grace_seconds, watermark, wall_clock)


async def evaluate_all(detector: Detector, catch_up: CatchUp, now: float) -> int:
    """Judge the operations whose windows closed since they were last judged (or whose
    hours wait for their business-wide factor): read from the packed headers, so an
    evaluation between window ends costs a pass over the headers, not decoding every
    operation's state. How many were judged."""
    if not recovered(detector.app):
        # The timer runs during table recovery too: judging (and storing) half-restored
        # state would overwrite what is still being read back.
        return 0
    async with detector.judging:
        return await _evaluate_all(detector, catch_up, now)


async def _evaluate_all(detector: Detector, catch_up: CatchUp, now: float) -> int:
    started = time.perf_counter()
    where = _where(detector)
    watermarks: dict[int, float] = {}
    for partition, last, _ in where.values():
        watermarks[partition] = max(watermarks.get(partition, 0.0), last or 0.0)
    until = {p: _until(detector, catch_up, p, mark, now) for p, mark in watermarks.items()}
    # Idle by the partition's own clock: reading a months-old backlog forgets nothing.
    idle_seconds = detector.settings.idle_days * 86400
    for operation, (partition, last, integration) in list(where.items()):
        if idle(last, until[partition], idle_seconds):
            evict(detector, operation, partition, integration)
            del where[operation]
    hours_closed: dict[str, tuple[OperationState, int]] = {}
    due = _due(detector, where, until)
    for n, operation in enumerate(due):
        partition = where[operation][0]
        windows = _windows(detector, operation)
        if windows is None:
            continue
        state = await advance_operation(detector, operation, windows, until[partition], now)
        if state is not None and state.baseline.pending:
            hours_closed[operation] = (state, partition)
        if n % _YIELD_EVERY == _YIELD_EVERY - 1:
            await asyncio.sleep(0)  # Let /metrics, the dashboard and ingest run meanwhile.
            await drain(detector.app)
    await settle_hours(detector, hours_closed)
    detector.metrics.evaluation_seconds.observe(time.perf_counter() - started)
    return len(due)


def _where(detector: Detector) -> dict[str, tuple[int, float | None, str | None]]:
    """(partition, newest call, integration) of every operation with window counts."""
    found = {}
    restore = detector.quarantine.decode
    for operation, raw in list(detector.counts.data.items()):
        if raw is None:
            continue
        read = restore(counts_table.NAME, operation, raw, counts_table.where)
        if read is not None:
            found[operation] = read
    return found


def _due(
    detector: Detector,
    where: dict[str, tuple[int, float | None, str | None]],
    until: dict[int, int],
) -> list[str]:
    """Operations with a window closed after the one they were last judged to, or with
    hours still to settle; one never judged is due too."""
    models = detector.models.data
    restore = detector.quarantine.decode
    due = []
    for operation, (partition, _, _) in where.items():
        raw = models.get(operation)
        judged = (
            None if raw is None else restore(models_table.NAME, operation, raw, models_table.judged)
        )
        if judged is None or judged[0] < until[partition] or judged[1]:
            due.append(operation)
    return due


def _windows(detector: Detector, operation: str) -> OperationWindows | None:
    raw = detector.counts.data.get(operation)
    if raw is None:
        return None
    return detector.quarantine.decode(counts_table.NAME, operation, raw, counts_table.decode)


async def settle_hours(detector: Detector, closed: dict[str, tuple[OperationState, int]]) -> None:
    """Judge the hours the operations just closed against the business-wide factor of
    each hour, as replay does (``detector.replay.settle_all``), and store them again.

    The factor is estimated from the operations this worker owns that closed the hour
    in the same evaluation: with one worker (and in replay), all of them. With several
    workers, each estimates it from its own partitions' operations, which is the same
    median on fewer votes; below three voters there is no shared factor.

    Every settled model is stored (a checkpoint), so a restarted worker never settles
    an hour again with only some of its voters."""
    if not closed:
        return
    settle_all(detector.engine, {op: state for op, (state, _) in closed.items()})
    for n, (operation, (state, partition)) in enumerate(closed.items()):
        put(detector.models, partition, operation, models_table.encode(state))
        if n % _YIELD_EVERY == _YIELD_EVERY - 1:
            await drain(detector.app)


def evict(detector: Detector, operation: str, partition: int, integration: str | None) -> None:
    """Forget an idle operation: its table records and its events in flight (deleted
    keys: tombstones, so compaction drops them from the changelogs too), its cached rule
    and lifecycle, its place under the caps, and its metric series; it comes back as a
    new operation if it is ever called again."""
    for table in (detector.counts, detector.models, detector.summaries):
        delete(table, partition, operation)
    detector.lifecycles.evict(operation, partition)
    detector.engine.forget(operation)
    detector.roster.drop(operation)
    detector.metrics.forget(operation, integration or "")
    detector.metrics.evicted.inc()
    log.info(
        "forgot %s: no call for more than %g days (DETECTOR_IDLE_DAYS)",
        operation,
        detector.settings.idle_days,
    )


async def advance_operation(
    detector: Detector, operation: str, windows: OperationWindows, until: int, now: float
) -> OperationState | None:
    """Judge the operation's windows up to ``until``; publish what changed, and store
    the state (sent to the changelogs at a change or a checkpoint, ``detector.checkpoints``;
    in memory otherwise). The state after that (None if none yet)."""
    raw = detector.models.data.get(operation)
    before = (
        detector.quarantine.decode(models_table.NAME, operation, raw, models_table.decode)
        if raw is not None
        else None
    )
    if before is not None and before.last_boundary >= until:
        return before
    book = detector.lifecycles
    life = book.get(operation)
    snapshots = life.close(until, book.policy(operation, windows.integration))
    state, changes = detector.engine.advance(
        before, operation, windows.integration, windows.windows, until, snapshots
    )
    life.judged(until)
    if state is None:  # No window closed yet: nothing judged, nothing worth a write.
        book.save(operation, windows.partition, windows.integration, send=False)
        return None
    settings = detector.settings
    every = checkpoints.interval(
        settings.checkpoint_seconds, settings.window_seconds, settings.window_retention_seconds
    )
    before_boundary = None if before is None else before.last_boundary
    store = bool(changes) or checkpoints.due(
        operation, before_boundary, state.last_boundary, settings.window_seconds, every
    )
    detected_at = datetime.fromtimestamp(now, tz=UTC)
    for change in changes:
        stamped = {"detected_at": detected_at, "log_url": detector.log_url(change, now)}
        await _publish(detector, change.model_copy(update=stamped))
    # Published first, stored second: a crash in between re-publishes the same change
    # ids after the restart, which consumers dedupe; the reverse could lose a change.
    put(detector.models, windows.partition, operation, models_table.encode(state), store)
    book.save(operation, windows.partition, windows.integration, store)
    summary = _summary(detector, operation, windows, state, changes)
    encoded = summaries_table.encode(summary)
    put(detector.summaries, windows.partition, operation, encoded, store)
    return state


def _summary(
    detector: Detector,
    operation: str,
    windows: OperationWindows,
    state: OperationState,
    changes: list[StatusChange],
) -> OperationSummary:
    raw = detector.summaries.data.get(operation)
    restored = (
        detector.quarantine.decode(summaries_table.NAME, operation, raw, summaries_table.decode)
        if raw is not None
        else None
    )
    summary = restored or OperationSummary(operation=operation)
    size = detector.settings.window_seconds
    zone = detector.detection.zone
    # The summary's own boundary, not the model's: the two tables are written one after
    # the other, and a crash in between must neither skip nor repeat a window here.
    judged_from = int(summary.updated_at) if raw is not None else None
    for start, counts in sorted(windows.windows.items()):
        newly_judged = judged_from is None or start >= judged_from
        if newly_judged and start + size <= state.last_boundary:
            summary.add_window(start, counts, zone)
    if changes:
        summary.last_change_id = changes[-1].id
    book = detector.lifecycles
    life = book.get(operation)
    summary.in_flight, summary.pattern = life.in_flight, life.note
    summary.stuck_after = life.stuck_after(book.policy(operation, windows.integration))
    return refresh(summary, state, windows.last_call_at)


async def _publish(detector: Detector, change: StatusChange) -> None:
    previous = change.previous.value if change.previous else "new"
    log.info("%s: %s -> %s: %s", change.operation, previous, change.status.value, change.reason)
    await detector.topics.status.send(
        key=change.operation.encode(), value=change.model_dump_json().encode()
    )
    detector.metrics.changes.labels(change.status.value).inc()
