"""Offline replay: the live worker's decisions, reproduced from a file of events.

Events (in timestamp order) are followed through their lifecycle and counted into
windows (``detector.lifecycle``: an event with an ``event_id`` is one call); whenever
event time enters a new window, every known operation is advanced to that window's start
with the same ``Engine.advance`` the worker's evaluator calls, which is what the worker
does while it reads a backlog. At the end, operations are advanced to the start of the last event's
window, not beyond: what comes after the file is unknown.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from detector.baseline import Baseline, Calendar, hour_kind, local_midnight
from detector.engine import Engine
from detector.events import OperationCall
from detector.lifecycle.tracker import Lifecycle, Policy
from detector.opconfig import DetectionConfig
from detector.shared import hour_factors, weekend_evidence
from detector.state import OperationState
from detector.status import StatusChange
from detector.windows import WindowCounts, closed_until, window_start


@dataclass
class ReplayStats:
    calls: int = 0
    events: int = 0
    late: int = 0  # Events for a window already judged (out of timestamp order).
    operations: set[str] = field(default_factory=set)
    newest: float = 0.0  # The newest event time read: where the replayed history ends.


def replay(
    calls: Iterable[OperationCall],
    config: DetectionConfig,
    window_seconds: int = 60,
    stats: ReplayStats | None = None,
    grace: float = 0.0,
) -> Iterator[StatusChange]:
    stats = stats if stats is not None else ReplayStats()
    run = _Run(Engine(config, window_seconds))
    windows = run.windows
    judged = None  # The boundary every operation has been advanced to.
    newest = 0.0
    for call in calls:
        assert call.timestamp is not None, "replay needs timestamps on every event"
        start = window_start(call.timestamp, window_seconds)
        operation = call.operation
        if operation not in windows:
            windows[operation], run.states[operation] = {}, None
            run.lifecycles[operation] = Lifecycle()
            stats.operations.add(operation)
        if call.integration is not None:
            run.integrations[operation] = call.integration
        if judged is not None and start < judged:
            # Too late to count, as in the worker; its lifecycle still moves on.
            run.lifecycles[operation].observe(call, run.policy(operation))
            stats.late += 1
            continue
        newest = max(newest, call.timestamp)
        until = closed_until(window_seconds, grace, newest)
        if judged is None or until > judged:
            if judged is not None:
                yield from run.advance_all(until)
            judged = until
        counts = windows[operation].setdefault(start, WindowCounts())
        n, errors, retries = run.lifecycles[operation].observe(call, run.policy(operation))
        counts.add(n, errors, retries)
        if errors:
            counts.add_codes({call.error_code or "unknown": errors})
        stats.calls += n
        stats.events += 1
    stats.newest = newest
    if judged is not None:
        # The file has ended: nothing late can arrive, so no grace.
        yield from run.advance_all(closed_until(window_seconds, 0.0, newest))


@dataclass
class _Run:
    """Every operation's windows, lifecycle and detection state during one replay."""

    engine: Engine
    states: dict[str, OperationState | None] = field(default_factory=dict)
    integrations: dict[str, str | None] = field(default_factory=dict)
    windows: dict[str, dict[int, WindowCounts]] = field(default_factory=dict)
    lifecycles: dict[str, Lifecycle] = field(default_factory=dict)
    policies: dict[str, Policy] = field(default_factory=dict)

    def policy(self, operation: str) -> Policy:
        found = self.policies.get(operation)
        if found is None:
            rule = self.engine.rule(operation, self.integrations.get(operation))
            found = Policy.of(rule, self.engine.window, self.engine.config.zone)
            self.policies[operation] = found
        return found

    def advance_all(self, until: int) -> Iterator[StatusChange]:
        for operation, state in self.states.items():
            own, life = self.windows[operation], self.lifecycles[operation]
            snaps = life.close(until, self.policy(operation))
            integration = self.integrations.get(operation)
            state, changes = self.engine.advance(state, operation, integration, own, until, snaps)
            life.judged(until)
            self.states[operation] = state
            yield from changes
            for start in [s for s in own if s < until]:
                del own[start]
        settle_all(self.engine, self.states)


def settle_all(engine: Engine, states: Mapping[str, OperationState | None]) -> None:
    """Once every operation passed an hour's end: judge their hours against the
    business-wide factor of each (``detector.shared``), as the live evaluator does."""
    waiting = {op: st for op, st in states.items() if st is not None and st.baseline.pending}
    if not waiting:
        return
    voters = [st.baseline for st in waiting.values() if not st.baseline.machine]
    factors = hour_factors(
        (b.pending for b in voters),
        (st.baseline.pending for st in waiting.values() if st.baseline.machine),
    )
    holiday = weigh_holiday(voters, sorted(factors), engine.calendar)
    for state in states.values():
        if state is not None:
            state.baseline.holiday = list(holiday)
    for operation, state in waiting.items():
        engine.settle(state, operation, factors.get)


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
