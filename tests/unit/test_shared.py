"""The business-wide activity factor: a robust median of the operations' hours."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from detector.shared import CLIP, LIMIT, activity_factor, hour_factors, weekend_evidence


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


def test_jobs_and_batches_abstain_but_their_hours_get_a_factor() -> None:
    people = [[[0, 70.0, 100.0, 0.0]], [[0, 35.0, 50.0, 0.0]], [[0, 14.0, 20.0, 0.0]]]
    jobs = [[[0, 600.0, 600.0, 0.0], [3600, 600.0, 600.0, 0.0]]] * 3
    factors = hour_factors(people, jobs)
    assert math.isclose(math.exp(factors[0]), 0.7, rel_tol=0.05)  # Not pulled back to 1.
    assert factors[3600] == 0.0  # Known, so the jobs' hour is settled.


# (calls, weekday bucket, weekend bucket, days behind each, spread, dispersion)
SHOP = (0.0, 300.0, 360.0, 12.0, 8.0, 0.02, 1.0)  # Busier at weekends.
SITE = (0.0, 200.0, 140.0, 12.0, 8.0, 0.02, 1.0)
OFFICE = (0.0, 100.0, 0.0, 12.0, 8.0, 0.02, 1.0)


def at(vote: tuple[float, ...], calls: float) -> tuple[float, ...]:
    return (calls, *vote[1:])


def evidence(votes: list[tuple[float, ...]]) -> float:
    found = weekend_evidence(votes)  # type: ignore[arg-type]
    assert found is not None
    return found


def test_a_morning_on_the_weekend_profile_is_evidence_of_a_holiday() -> None:
    holiday = [at(SHOP, 365), at(SITE, 138), at(SITE, 145), at(OFFICE, 5)]
    ordinary = [at(SHOP, 296), at(SITE, 205), at(SITE, 196), at(OFFICE, 102)]
    assert evidence(holiday) > 5  # Shops up, sites down together: a weekend.
    assert evidence(ordinary) < -5
    # A quiet day (everything at 0.7x) is not a weekend: the shop did not rise.
    quiet = [at(SHOP, 210), at(SITE, 140), at(SITE, 140), at(OFFICE, 70)]
    assert evidence(quiet) < 0


def test_one_operation_alone_cannot_decide_the_day() -> None:
    assert weekend_evidence([at(SHOP, 360), at(SITE, 140)]) is None  # Too few voters.
    # One site collapsing (an incident) says at most CLIP.
    ordinary = [at(SHOP, 300), at(SITE, 200), at(SITE, 200), at(OFFICE, 100)]
    broken = [*ordinary[:3], at(OFFICE, 0)]
    assert evidence(broken) - evidence(ordinary) <= 2 * CLIP


def test_young_weekend_buckets_weigh_less() -> None:
    holiday = [at(SHOP, 360), at(SITE, 140), at(SITE, 140), at(OFFICE, 5)]
    young = [(*v[:4], 1.0, *v[5:]) for v in holiday]
    assert 0 < evidence(young) < evidence(holiday)


def test_an_office_trickling_on_a_holiday_argues_for_the_weekend() -> None:
    shops = [at(SHOP, 360), at(SITE, 140), at(SITE, 140)]
    trickle, normal = evidence([*shops, at(OFFICE, 5)]), evidence(shops)
    assert trickle - normal == CLIP  # 5 calls against a closed weekend: a holiday trickle.
    assert evidence([*shops, at(OFFICE, 100)]) < normal


def test_an_operation_off_both_profiles_does_not_vote() -> None:
    holiday = [at(SHOP, 360), at(SITE, 140), at(SITE, 140), at(SITE, 140)]
    stepped = (0.0, 100.0, 70.0, 12.0, 8.0, 0.0, 1.0)  # Stepped up: no falls, no spread.
    assert evidence([*holiday, at(stepped, 250)]) == evidence(holiday)
    # Near one of them, it votes: at its weekday level, against the weekend.
    webhook = (0.0, 100.0, 50.0, 12.0, 8.0, 0.0, 1.0)
    assert evidence([*holiday, at(webhook, 100)]) < evidence(holiday)


def test_no_operation_fits_a_profile_better_than_perfectly() -> None:
    holiday = [at(SHOP, 360), at(SITE, 140), at(SITE, 140), at(SITE, 140)]
    webhook = (0.0, 100.0, 50.0, 12.0, 8.0, 0.0, 1.0)  # Slower at weekends, not on holidays.
    perfect = evidence([*holiday, at(webhook, 100)]) - evidence(holiday)
    above = evidence([*holiday, at(webhook, 130)]) - evidence(holiday)
    assert perfect < 0
    assert math.isclose(above, perfect, rel_tol=0.05)  # Beyond its weekday level: no more.
