"""Drive the engine with synthetic per-minute traffic, for the detection unit tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np

from detector.engine import Engine
from detector.opconfig import DetectionConfig
from detector.replay import settle_all
from detector.state import OperationState
from detector.status import StatusChange
from detector.windows import WindowCounts

MONDAY = int(datetime(2026, 3, 2, tzinfo=UTC).timestamp())
DAY = 86400

# (calls, errors) for the minute starting at ts, drawn from a generator seeded by the
# minute itself: the same minute always has the same traffic, however it is fed.
Traffic = Callable[[int, np.random.Generator], tuple[int, int]]


def poisson(rate_per_minute: Callable[[int], float], error_ratio: float) -> Traffic:
    def traffic(ts: int, rng: np.random.Generator) -> tuple[int, int]:
        n = int(rng.poisson(rate_per_minute(ts)))
        return n, int(rng.binomial(n, error_ratio)) if n else 0

    return traffic


def run(
    traffic: Traffic,
    days: float,
    *,
    start: int = MONDAY,
    config: DetectionConfig | None = None,
    seed: int = 7,
    state: OperationState | None = None,
    operation: str = "Op",
) -> tuple[OperationState | None, list[StatusChange]]:
    """Feed ``days`` of traffic minute by minute, advancing the engine every hour."""
    engine = Engine(config or DetectionConfig())
    changes: list[StatusChange] = []
    end = start + int(days * DAY)
    for hour in range(start, end, 3600):
        windows = {}
        for ts in range(hour, min(hour + 3600, end), 60):
            calls, errors = traffic(ts, np.random.default_rng((seed, ts)))
            if calls:
                windows[ts] = WindowCounts(calls, errors, 0)
        state, new = engine.advance(state, operation, "test", windows, min(hour + 3600, end))
        changes.extend(new)
        settle_all(engine, {operation: state})  # What replay does between hours.
    return state, changes


def problems(changes: list[StatusChange], after: int = 0) -> list[StatusChange]:
    return [c for c in changes if c.status.is_problem and c.at.timestamp() >= after]


def hour_of(ts: int) -> int:
    return (ts % DAY) // 3600


def weekday_of(ts: int) -> int:
    return ((ts // DAY) + 3) % 7
