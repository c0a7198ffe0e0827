"""Window arithmetic and batch aggregation agree with a plain Python count."""

from __future__ import annotations

import random
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from detector.windows import (
    MAX_ERROR_CODES,
    Batch,
    OperationWindows,
    WindowCounts,
    aggregate,
    closed_until,
    window_start,
)


def test_window_start_is_floor() -> None:
    assert [window_start(t, 60) for t in (0, 59.999, 60, 119, 120.5)] == [0, 0, 60, 60, 120]


def test_aggregate_matches_a_plain_count() -> None:
    rng = random.Random(7)
    batch = Batch()
    expected: Counter[tuple[str, int, str]] = Counter()
    for _ in range(5000):
        op = rng.choice(["A", "B", "C.D"])
        ts = rng.uniform(0, 600)
        calls = rng.randint(1, 3)
        errors = rng.randint(0, calls)
        batch.append(op, ts, calls, errors, 0)
        start = int(ts // 60) * 60
        expected[(op, start, "calls")] += calls
        expected[(op, start, "errors")] += errors
    sums = aggregate(batch, 60)
    for op, windows in sums.items():
        for start, counts in windows.items():
            assert counts.calls == expected[(op, start, "calls")]
            assert counts.errors == expected[(op, start, "errors")]
    assert sum(c.calls for windows in sums.values() for c in windows.values()) == sum(batch.calls)


def test_error_codes_are_bounded() -> None:
    counts = WindowCounts()
    for i in range(MAX_ERROR_CODES + 3):
        counts.add_codes({f"E{i}": 1})
    assert len(counts.error_codes) == MAX_ERROR_CODES + 1
    assert counts.error_codes["other"] == 3
    assert WindowCounts.from_list(counts.to_list()) == counts


def test_aggregate_sums_are_exact_integers() -> None:
    """Float sums round above 2^53 (and wrapped to negative counts once): int64 is exact."""
    batch = Batch()
    for _ in range(9):
        batch.append("A", 60.0, 10**18, 10**18 - 1, 0)
    batch.append("A", 60.0, 1, 0, 1)
    (counts,) = aggregate(batch, 60)["A"].values()
    assert (counts.calls, counts.errors, counts.retries) == (9 * 10**18 + 1, 9 * 10**18 - 9, 1)


def test_closed_until_follows_event_time_minus_grace_while_reading_a_backlog() -> None:
    assert closed_until(60, 15.0, 134.0) == 60  # 119 s: the window [60, 120) is still open.
    assert closed_until(60, 15.0, 136.0) == 120
    assert closed_until(60, 0.0, 120.0) == 120  # The end of a file: no grace.


def test_closed_until_uses_the_wall_clock_once_caught_up() -> None:
    # Silence: no new event, but the clock moved on.
    assert closed_until(60, 15.0, 100.0, wall_clock=400.0) == 360
    # A producer clock slightly ahead of ours never moves the boundary back.
    assert closed_until(60, 15.0, 500.0, wall_clock=400.0) == 480


@given(
    st.integers(10, 3600),
    st.floats(0, 600),
    st.floats(0, 1e9),
    st.one_of(st.none(), st.floats(0, 1e9)),
)
def test_closed_until_is_a_boundary_no_later_than_time_minus_grace(
    size: int, grace: float, event_time: float, wall_clock: float | None
) -> None:
    until = closed_until(size, grace, event_time, wall_clock)
    now = event_time if wall_clock is None else max(event_time, wall_clock)
    assert until % size == 0
    assert until <= now - grace < until + size


def test_operation_windows_merge_expire_and_round_trip() -> None:
    state = OperationWindows(3, "web")
    state.merge(0, WindowCounts(2, 1, 0, {"E": 1}))
    state.merge(0, WindowCounts(1, 1, 0, {"E": 1}))
    state.merge(7200, WindowCounts(1, 0, 0))
    assert state.windows[0].to_list() == [3, 2, 0, {"E": 2}]
    assert state.horizon(3600) == 3600
    state.expire(3600)
    assert list(state.windows) == [7200]
    assert OperationWindows.from_value(state.to_value()) == state
