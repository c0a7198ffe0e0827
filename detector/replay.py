"""Offline replay: the live worker's decisions, reproduced from a file of events.

Events (in timestamp order) are counted into windows; whenever event time enters a new
window, every known operation is advanced to that window's start with the same
``Engine.advance`` the worker's evaluator calls, which is what the worker does while it
reads a backlog. At the end, operations are advanced to the start of the last event's
window, not beyond: what comes after the file is unknown.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from detector.engine import Engine
from detector.events import OperationCall
from detector.opconfig import DetectionConfig
from detector.state import OperationState
from detector.status import StatusChange
from detector.windows import WindowCounts, window_start


@dataclass
class ReplayStats:
    calls: int = 0
    events: int = 0
    late: int = 0  # Events for a window already judged (out of timestamp order).
    operations: set[str] = field(default_factory=set)


def replay(
    calls: Iterable[OperationCall],
    config: DetectionConfig,
    window_seconds: int = 60,
    stats: ReplayStats | None = None,
) -> Iterator[StatusChange]:
    stats = stats if stats is not None else ReplayStats()
    engine = Engine(config, window_seconds)
    states: dict[str, OperationState | None] = {}
    integrations: dict[str, str | None] = {}
    windows: dict[str, dict[int, WindowCounts]] = {}
    judged = None  # The boundary every operation has been advanced to.
    for call in calls:
        assert call.timestamp is not None, "replay needs timestamps on every event"
        start = window_start(call.timestamp, window_seconds)
        if judged is not None and start < judged:
            stats.late += 1
            continue
        if judged is None or start > judged:
            if judged is not None:
                yield from _advance_all(engine, states, integrations, windows, start)
            judged = start
        operation = call.operation
        if operation not in windows:
            windows[operation], states[operation] = {}, None
            stats.operations.add(operation)
        if call.integration is not None:
            integrations[operation] = call.integration
        counts = windows[operation].setdefault(start, WindowCounts())
        n, errors, retries = call.tally()
        counts.add(n, errors, retries)
        if errors:
            counts.add_codes({call.error_code or "unknown": errors})
        stats.calls += n
        stats.events += 1
    if judged is not None:
        yield from _advance_all(engine, states, integrations, windows, judged)


def _advance_all(
    engine: Engine,
    states: dict[str, OperationState | None],
    integrations: dict[str, str | None],
    windows: dict[str, dict[int, WindowCounts]],
    until: int,
) -> Iterator[StatusChange]:
    for operation, state in states.items():
        own = windows[operation]
        state, changes = engine.advance(state, operation, integrations.get(operation), own, until)
        states[operation] = state
        yield from changes
        for start in [s for s in own if s < until]:
            del own[start]
