"""The business-wide activity factor: a robust median of the operations' hours."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from detector.shared import LIMIT, activity_factor, hour_factors


def test_a_quiet_day_moves_everything_together() -> None:
    hours = [(70.0, 100.0), (350.0, 500.0), (14.0, 20.0), (700.0, 1000.0)]
    assert math.isclose(math.exp(activity_factor(hours)), 0.7, rel_tol=0.03)


def test_one_operation_dropping_does_not_move_the_factor() -> None:
    hours = [(100.0, 100.0), (500.0, 500.0), (20.0, 20.0), (0.0, 1000.0)]
    assert abs(activity_factor(hours)) < 0.05


def test_too_few_or_too_rare_voters_give_no_factor() -> None:
    assert activity_factor([(50.0, 100.0), (50.0, 100.0)]) == 0.0
    assert activity_factor([(0.0, 2.0), (0.0, 3.0), (0.0, 1.0), (0.0, 4.0)]) == 0.0


@given(st.lists(st.tuples(st.floats(0, 1e6), st.floats(0, 1e6)), max_size=30))
def test_the_factor_is_bounded_and_between_the_votes(hours: list[tuple[float, float]]) -> None:
    factor = activity_factor(hours)
    assert -LIMIT <= factor <= LIMIT
    ratios = [math.log((c + 0.5) / (e + 0.5)) for c, e in hours if e >= 5]
    if len(ratios) >= 3:

        def clip(x: float) -> float:
            return max(-LIMIT, min(LIMIT, x))

        assert clip(min(ratios)) - 1e-9 <= factor <= clip(max(ratios)) + 1e-9


def test_hour_factors_groups_pending_hours_of_all_operations() -> None:
    pending = [
        [[0, 50.0, 100.0, 0.0], [3600, 100.0, 100.0, 0.0]],
        [[0, 25.0, 50.0, 0.0], [3600, 50.0, 50.0, 0.0]],
        [[0, 10.0, 20.0, 1.0]],
    ]
    factors = hour_factors(pending)
    assert set(factors) == {0, 3600}
    assert math.isclose(math.exp(factors[0]), 0.5, rel_tol=0.05)
    assert factors[3600] == 0.0  # Only two voters.
