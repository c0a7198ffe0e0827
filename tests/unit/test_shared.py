"""The business-wide activity factor: a robust median of the operations' hours."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import cast
from zoneinfo import ZoneInfo

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from detector.baseline import Baseline, Calendar
from detector.engine import Engine
from detector.replay import settle_all
from detector.shared import (
    CLIP,
    LIMIT,
    SHIFT_CLIP,
    activity_factor,
    error_clump_pool,
    hour_factors,
    sibling_shifts,
    weekend_evidence,
)
from detector.state import OperationState


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


def test_an_operations_siblings_shift_is_theirs_beyond_the_business() -> None:
    """The website runs 20% below the business (factor 0.9 an hour): each form's
    siblings' shift is theirs, not its own; an operation alone in its integration, a
    tainted sibling, a rare one and one without an integration give no shift."""
    factors = {0: math.log(0.9)}
    entries = [
        ("Subscribe", "website", [[0, 72.0, 100.0, 0.0]]),
        ("Order", "website", [[0, 36.0, 50.0, 0.0]]),
        ("Feedback", "website", [[0, 5.0, 10.0, 0.0]]),
        ("Registration", "website", [[0, 0.0, 80.0, 1.0]]),  # Tainted: its own incident.
        ("Unsubscribe", "website", [[0, 0.0, 2.0, 0.0]]),  # Too rare to say.
        ("Login", "app", [[0, 100.0, 100.0, 0.0]]),
        ("Loose", None, [[0, 50.0, 100.0, 0.0]]),
    ]
    shifts = sibling_shifts(entries, factors)
    assert set(shifts) == {"Subscribe", "Order", "Feedback", "Registration"}
    x, y, teaches = shifts["Subscribe"][0]
    order, feedback = (math.log((c + 0.5) / (e + 0.5) / 0.9) for c, e in ((36, 50), (5, 10)))
    assert math.isclose(x, (50 * order + 10 * feedback) / 60)  # Weighted as their votes.
    assert math.isclose(math.exp(y), 0.8, rel_tol=0.02)
    assert teaches
    assert not shifts["Registration"][0][2]  # A tainted hour teaches nothing ...
    assert not shifts["Feedback"][0][2]  # ... nor one expecting few calls.
    assert shifts["Registration"][0][0] < 0  # But it is judged with its siblings' shift.


@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b"]), st.floats(0, 1e5), st.floats(0, 1e5)),
        max_size=12,
    )
)
def test_a_shift_is_clipped_and_between_the_siblings(
    hours: list[tuple[str, float, float]],
) -> None:
    entries = [(f"op{i}", name, [[0, c, e, 0.0]]) for i, (name, c, e) in enumerate(hours)]
    shifts = sibling_shifts(entries, {0: 0.0})
    for i, (name, _, _) in enumerate(hours):
        if f"op{i}" not in shifts:
            continue
        others = [
            math.log((c + 0.5) / (e + 0.5))
            for j, (n, c, e) in enumerate(hours)
            if j != i and n == name and e >= 5
        ]
        x = shifts[f"op{i}"][0][0]
        assert abs(x) <= SHIFT_CLIP
        low, high = (max(-SHIFT_CLIP, min(SHIFT_CLIP, v)) for v in (min(others), max(others)))
        assert low - 1e-9 <= x <= high + 1e-9


def test_an_operation_learns_its_share_of_its_siblings_shift() -> None:
    rng = np.random.default_rng(5)
    shares, loner = Baseline(), Baseline()
    assert shares.sibling_beta == 0.0  # Nothing learned: judged as the business.
    for _ in range(400):
        x = float(rng.normal(0.0, 0.15))
        shares.learn_sibling(x, 0.6 * x + float(rng.normal(0.0, 0.2)))
        loner.learn_sibling(x, float(rng.normal(0.0, 0.2)))
    assert 0.45 < shares.sibling_beta < 0.75
    assert loner.sibling_beta < 0.15
    assert Baseline.from_dict(shares.to_dict()).sibling == shares.sibling


def test_replay_settles_each_operation_with_its_share_of_its_siblings_shift() -> None:
    """The website below the business: a form that learned to share half of its
    siblings' shift is judged against the business factor shifted by half of theirs;
    an operation alone in its integration against the business factor."""
    given_factors: dict[str, float | None] = {}

    class Recorder:
        calendar = Calendar(ZoneInfo("UTC"))

        def settle(
            self, _st: OperationState, operation: str, factor_of: Callable[[int], float | None]
        ) -> None:
            given_factors[operation] = factor_of(0)

    hours = {
        "Subscribe": ("website", 60.0, 100.0),
        "Order": ("website", 40.0, 50.0),
        "Login": ("app", 100.0, 100.0),
        "AuthCode": ("crm", 100.0, 100.0),
        "Mail": ("email", 100.0, 100.0),
    }
    states = {
        op: OperationState(
            name, 0, 0, Baseline(pending=[[0, calls, expected, 0.0]], sibling=[0.5, 1 - 0.96])
        )
        for op, (name, calls, expected) in hours.items()
    }
    settle_all(cast(Engine, Recorder()), states)
    business = activity_factor([(c, e) for _, c, e in hours.values()])
    assert business == 0.0  # The median: three operations at their normal.
    shift = math.log(40.5 / 50.5)  # Order's, Subscribe's sibling.
    assert math.isclose(given_factors["Subscribe"] or 0.0, 0.5 * shift, rel_tol=1e-6)
    assert given_factors["Mail"] == 0.0


def test_the_clump_pool_is_the_median_of_operations_that_saw_enough_errors() -> None:
    retrying = [[340.0, 100.0], [68.0, 20.0], [3400.0, 1000.0], [900.0, 900.0]]  # One alone.
    assert error_clump_pool(retrying) == 3.4
    assert error_clump_pool([*retrying, [1.0, 1.0], [80.0, 10.0]]) == 3.4  # Too few errors.
    assert error_clump_pool(retrying[:2]) == 1.0  # Two operations cannot speak for all.
    assert error_clump_pool([[50.0, 100.0]] * 3) == 1.0  # Never below one by one.


def test_replay_hands_every_operation_the_pool_of_error_clumps() -> None:
    class Settled:
        calendar = Calendar(ZoneInfo("UTC"))

        def settle(self, *_: object) -> None:
            pass

    clumps = ([340.0, 100.0], [330.0, 100.0], [350.0, 100.0], [0.0, 0.0])
    states = {
        f"Op{i}": OperationState(
            "web", 0, 0, Baseline(pending=[[0, 10.0, 10.0, 0.0]], error_clumps=c)
        )
        for i, c in enumerate(clumps)
    }
    settle_all(cast(Engine, Settled()), states)
    assert {s.baseline.clump_pool for s in states.values()} == {3.4}
    assert states["Op3"].baseline.error_clump == 3.4
