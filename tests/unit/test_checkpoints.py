"""Checkpoints of judged state: every operation once per interval, spread evenly."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from detector.checkpoints import due, interval


def test_interval_in_windows_bounded_by_half_the_retention() -> None:
    assert interval(300, 60, 3600) == 5
    assert interval(300, 60, 240) == 2  # Half of 240 s: the windows must still be there.
    assert interval(0, 60, 3600) == 1  # Every window end, as before.
    assert interval(30, 60, 3600) == 1


@given(
    st.text(min_size=1, max_size=30),
    st.integers(0, 10**6),
    st.lists(st.integers(1, 7), min_size=1, max_size=60),
    st.integers(1, 12),
)
def test_every_operation_is_stored_at_least_once_per_interval(
    operation: str, start: int, steps: list[int], every: int
) -> None:
    """However judging advances (one window at a time, or several at once after a
    pause), no stretch of ``every`` windows passes without a checkpoint."""
    window = 60
    boundary = start * window
    assert due(operation, None, boundary, window, every)  # A new operation: at once.
    last_stored = boundary
    for step in steps:
        after = boundary + step * window
        if due(operation, boundary, after, window, every):
            last_stored = after
        else:
            assert step < every
        assert after - last_stored < every * window
        boundary = after


def test_operations_are_spread_over_the_interval() -> None:
    window, every = 60, 5
    stored = Counter(
        b
        for n in range(5_000)
        for b in range(window, 6 * window, window)
        if due(f"Shop.Operation{n}", b - window, b, window, every)
    )
    assert len(stored) == every
    assert all(900 < n < 1_100 for n in stored.values())  # About a fifth each window.
