"""The learned normal: hour buckets, holidays, downside spread, surge peak, cadence."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from detector.baseline import (
    HOLIDAY_EVIDENCE,
    PRIOR_DOWN,
    SCALES,
    Baseline,
    Calendar,
    cadence,
    consecutive,
    hour_kind,
)
from tests.unit.detection_helpers import DAY, MONDAY

UTC_CALENDAR = Calendar(ZoneInfo("UTC"))


def feed_hours(baseline: Baseline, first: int, counts: list[int], calendar: Calendar) -> None:
    """Each count as one window spanning a whole hour."""
    for i, n in enumerate(counts):
        start = first + 3600 * i
        baseline.learn(start, start + 3600, n, 0, False, calendar)


def test_a_listed_holiday_is_a_weekend_day() -> None:
    tuesday = MONDAY + DAY
    day = datetime.fromtimestamp(tuesday, tz=UTC).date()
    holidays = Calendar(ZoneInfo("UTC"), frozenset({day}))
    assert hour_kind(tuesday + 10 * 3600, UTC_CALENDAR) == (0, 10)
    assert hour_kind(tuesday + 10 * 3600, holidays) == (1, 10)
    assert hour_kind(MONDAY + 5 * DAY, UTC_CALENDAR)[0] == 1
    assert date(2026, 3, 3) == day


def test_hours_close_with_the_window_that_ends_them_and_wait_for_the_shared_factor() -> None:
    baseline = Baseline()
    feed_hours(baseline, MONDAY, [100] * 24, UTC_CALENDAR)
    assert baseline.pending == []  # Nothing was known before the first day.
    feed_hours(baseline, MONDAY + DAY, [80, 120], UTC_CALENDAR)
    assert [p[:3] for p in baseline.pending] == [
        [MONDAY + DAY, 80.0, 100.0],
        [MONDAY + DAY + 3600, 120.0, 100.0],
    ]


def test_a_campaign_teaches_a_bucket_at_most_twice_its_value() -> None:
    baseline = Baseline()
    for day in range(3):
        feed_hours(baseline, MONDAY + day * DAY, [100] * 24, UTC_CALENDAR)
    feed_hours(baseline, MONDAY + 3 * DAY, [1000], UTC_CALENDAR)
    assert baseline.hourly[0][0] <= 100 + (1 / 4) * (210 - 100) + 1e-9


def test_surges_do_not_teach_the_downside_spread() -> None:
    plain, campaigns = Baseline(), Baseline()
    rng = np.random.default_rng(1)
    noise = rng.normal(0.0, 0.3, 400)
    for i, r in enumerate(noise):
        plain.learn_volume(3600 * i, float(r), 0.001)
        surge = math.log(3.0) if i % 40 < 2 else 0.0  # 2-hour campaigns.
        campaigns.learn_volume(3600 * i, float(r) + surge, 0.001)
    assert 0.05 < plain.down[0] < 0.14  # 2 * E[r^2] of the half below: ~0.09.
    assert campaigns.down[0] < 1.25 * plain.down[0]
    assert plain.down[2] < plain.down[0]  # Independent hours average out.


def test_a_lagging_baseline_does_not_shrink_the_downside_spread() -> None:
    level, stepped = Baseline(), Baseline()
    noise = np.random.default_rng(2).normal(0.0, 0.3, 400)
    for i, r in enumerate(noise):
        level.learn_volume(3600 * i, float(r), 0.001)
        stepped.learn_volume(3600 * i, float(r) + 0.4, 0.001)  # 1.5x above its baseline.
    assert stepped.offset == pytest.approx(0.4, abs=0.15)
    assert stepped.down[0] == pytest.approx(level.down[0], rel=0.3)


def test_the_surge_peak_rises_at_once_and_fades_over_weeks() -> None:
    baseline = Baseline()
    baseline.learn_volume(0, math.log(4), 0.0)
    assert math.isclose(baseline.peak, math.log(4))
    for i in range(1, 14 * 24):
        baseline.learn_volume(3600 * i, 0.0, 0.0)
    assert math.log(2) < baseline.peak < math.log(3)


def test_consecutive_needs_unbroken_hours() -> None:
    residuals = [[0, -1.0, 0.1], [3600, -2.0, 0.1], [7200, -3.0, 0.1]]
    mean, poisson = consecutive(residuals, 3) or (0.0, 0.0)
    assert math.isclose(mean, -2.0)
    assert math.isclose(poisson, 0.3 / 9)
    assert consecutive([[0, -1.0, 0.1], [7200, -3.0, 0.1]], 2) is None
    assert consecutive(residuals, max(SCALES)) is None


def test_cadence_recognises_a_jittered_sync_and_not_a_trickle_or_a_shop() -> None:
    rng = np.random.default_rng(3)
    starts = np.arange(20) * 900 + rng.normal(0, 60, 20).round()
    gaps = [int(g) for g in np.diff(starts)][-12:]
    period, jitter = cadence(gaps, [120] * 12)
    assert 840 <= period <= 960
    assert 0 < jitter < 300
    trickle = [int(g) for g in rng.exponential(420, 12) + 180]
    assert cadence(trickle, [60] * 12) == (0, 0)
    shop = [DAY] * 12  # Opens once a day ... and stays open for 14 hours.
    assert cadence(shop, [14 * 3600] * 12) == (0, 0)
    assert cadence(gaps[:5], [120] * 5) == (0, 0)  # Too few runs to tell.


def test_the_first_hour_is_the_burstiness_estimate_and_later_ones_move_it_at_most_4x() -> None:
    batch = [100, 100] + [0] * 58  # A nightly run: 200 calls in two minutes.
    baseline = Baseline()
    assert not baseline.placed(1)  # Not known yet how bursty it is.
    baseline.learn_burstiness(batch)
    assert baseline.dispersion > 50  # Not capped at four times the Poisson prior.
    assert baseline.machine
    assert not baseline.placed(1)  # One night's bucket does not say when it runs.
    assert baseline.placed(2)
    before = baseline.dispersion
    baseline.learn_burstiness([5] * 60)  # A steady hour.
    assert math.isclose(baseline.dispersion, before / 4)
    steady = Baseline()
    steady.learn_burstiness([5] * 60)
    assert steady.dispersion == 1.0
    assert steady.placed(1)


def test_runs_are_learned_from_calls_after_a_quiet_spell() -> None:
    baseline = Baseline()
    for run in range(14):
        start = MONDAY + run * 900
        for minute in (0, 1):  # A batch over two windows.
            begin = start + 60 * minute
            baseline.learn(begin, begin + 60, 50, 0, False, UTC_CALENDAR)
    assert baseline.period == 900
    assert baseline.jitter == 0
    assert baseline.last_run == MONDAY + 13 * 900


def test_a_listed_holiday_is_judged_as_a_weekend_but_not_learned() -> None:
    tuesday = MONDAY + DAY
    holidays = Calendar(ZoneInfo("UTC"), frozenset({datetime.fromtimestamp(tuesday, UTC).date()}))
    baseline = Baseline()
    feed_hours(baseline, MONDAY - 2 * DAY, [10] * 48, holidays)  # A weekend of 10 an hour.
    feed_hours(baseline, tuesday, [3] * 24, holidays)  # An office trickling on.
    assert baseline.hourly[1] == [10.0] * 24
    assert baseline.seen[1] == [2] * 24
    assert baseline.pending[-1][2] == 10.0  # Judged against the weekend.


def test_an_inferred_holiday_turns_the_rest_of_the_day_into_a_weekend() -> None:
    tuesday = MONDAY + DAY
    baseline = Baseline()
    assert baseline.kind(tuesday + 10 * 3600, UTC_CALENDAR) == (0, 10)
    baseline.holiday = [float(tuesday), HOLIDAY_EVIDENCE + 1, float(tuesday + 9 * 3600)]
    assert baseline.kind(tuesday + 10 * 3600, UTC_CALENDAR) == (1, 10)
    assert baseline.kind(tuesday + DAY + 10 * 3600, UTC_CALENDAR) == (0, 10)  # Wednesday.
    baseline.holiday[1] = HOLIDAY_EVIDENCE - 1
    assert baseline.kind(tuesday + 10 * 3600, UTC_CALENDAR) == (0, 10)


def test_on_an_inferred_holiday_weekday_traffic_is_never_a_flood() -> None:
    tuesday = MONDAY + DAY
    baseline = Baseline()
    baseline.hourly = [[100.0] * 24, [0.0] * 24]  # An office: closed at weekends.
    baseline.seen = [[5] * 24, [2] * 24]
    baseline.holiday = [float(tuesday), HOLIDAY_EVIDENCE + 1, float(tuesday + 9 * 3600)]
    low, high, _ = baseline.rate(tuesday + 10 * 3600, 60, UTC_CALENDAR)
    assert low == 0.0  # Judged as a weekend: silence is normal.
    assert math.isclose(high, 100 / 60)  # But its weekday traffic is no flood.


def test_the_error_ratios_wobble_is_learned_beyond_the_binomial() -> None:
    steady, wobbly = Baseline(), Baseline()
    rng = np.random.default_rng(3)
    for hour in range(24 * 14):
        start = MONDAY + 3600 * hour
        ratio = 0.1 * math.exp(rng.normal(0.0, 0.35))
        for baseline, q in ((steady, 0.1), (wobbly, ratio)):
            errors = int(rng.binomial(200, min(q, 1.0)))
            baseline.learn(start, start + 3600, 200, errors, False, UTC_CALENDAR)
    assert steady.error_wobble < 0.12
    assert wobbly.error_wobble == pytest.approx(0.35, abs=0.1)


def test_the_days_own_hours_pin_its_error_ratio_and_the_wobble_left_within_it() -> None:
    """The ratio wobbles by 30% from day to day and 10% from hour to hour: the day's
    earlier hours pin its level (the newest hour left out), and around it an hour
    wobbles by about 10%."""
    baseline = Baseline()
    rng = np.random.default_rng(5)
    days = [0.1 * math.exp(rng.normal(0.0, 0.3)) for _ in range(22)]
    for hour in range(24 * 21 + 12):
        start = MONDAY + 3600 * hour
        ratio = days[hour // 24] * math.exp(rng.normal(0.0, 0.1))
        errors = int(rng.binomial(200, min(ratio, 1.0)))
        baseline.learn(start, start + 3600, 200, errors, False, UTC_CALENDAR)
        if hour % 24 == 0:  # One closed hour today, and it is the newest: nothing pinned.
            assert baseline.day_ratio() is None
    assert baseline.today[1] == 200 * 11  # Noon: 12 closed hours, the newest left out.
    pinned = baseline.day_ratio()
    assert pinned is not None
    assert pinned[0] == pytest.approx(days[21], rel=0.15)
    assert pinned[1] < 0.01
    assert baseline.error_wobble == pytest.approx(0.32, abs=0.1)
    assert baseline.hour_wobble == pytest.approx(0.1, abs=0.06)


def clumped_hour(
    rng: np.random.Generator, rate: float, ratio: float, retries: int
) -> tuple[list[int], list[int]]:
    """An hour of minute windows whose failed calls are each retried ``retries`` times
    at once (failing again) by half the clients."""
    calls = rng.poisson(rate, 60)
    errors = rng.binomial(calls, ratio)
    again = retries * rng.binomial(errors, 0.5)
    return [int(x) for x in calls + again], [int(x) for x in errors + again]


def test_errors_retried_at_once_teach_how_they_clump() -> None:
    """Half the failures retried three times at once: errors come about 3.4 at a time
    (the variance of an error count over the binomial's, E[c²]/E[c]); failures one by
    one: 1. Hours spent in a problem status teach nothing."""
    rng = np.random.default_rng(11)
    lone, retried, tainted = Baseline(), Baseline(), Baseline()
    tainted.hour_tainted = True
    for _ in range(48):
        lone.learn_windows(*clumped_hour(rng, 5.0, 0.03, 0))
        retried.learn_windows(*clumped_hour(rng, 5.0, 0.03, 3))
        tainted.learn_windows(*clumped_hour(rng, 5.0, 0.03, 3))
    assert lone.error_clump == pytest.approx(1.0, abs=0.15)
    assert retried.error_clump == pytest.approx(3.3, abs=0.5)
    assert tainted.error_clumps == [0.0, 0.0]
    assert tainted.error_clump == 1.0


def test_a_rare_operation_takes_the_others_clumps_until_its_own_errors_say_otherwise() -> None:
    rare = Baseline(clump_pool=3.0)
    assert rare.error_clump == 3.0
    for _ in range(200):  # 200 hours of one lone failure each.
        rare.learn_windows([1] * 60, [1] + [0] * 59)
    assert rare.error_clump < 1.5  # The decaying sums weigh about 100 of its own errors.


@given(
    st.lists(st.integers(0, 10_000), min_size=60, max_size=60),
    st.lists(st.integers(0, 10_000), min_size=60, max_size=60),
)
def test_the_error_clump_is_bounded_and_stored(calls: list[int], errors: list[int]) -> None:
    baseline = Baseline()
    errors = [min(e, n) for n, e in zip(calls, errors, strict=True)]
    baseline.learn_windows(calls, errors)
    baseline.learn_windows(calls[::-1], errors[::-1])
    assert 1.0 <= baseline.error_clump <= 8.0
    assert Baseline.from_dict(baseline.to_dict()).error_clump == baseline.error_clump


def test_busy_bursty_minutes_are_judged_by_volume_clumped_ones_are_batches() -> None:
    """A mailer at 17 calls a minute whose rate wobbles by 60% from minute to minute is
    7 times burstier than Poisson, yet judged by volume (without voting for the shared
    factor); a producer sending 200 calls in 3 minutes every 20, or 10 at once an hour,
    is a batch; calm traffic is judged and votes."""
    rng = np.random.default_rng(7)
    mailer, batches, trickle, calm = Baseline(), Baseline(), Baseline(), Baseline()
    for _ in range(12):
        minutes = rng.poisson(17 * rng.gamma(3.0, 1 / 3.0, 60))
        mailer.learn_burstiness([int(x) for x in minutes])
        batches.learn_burstiness([67 if m % 20 < 3 else 0 for m in range(60)])
        trickle.learn_burstiness([10 if m == 30 else 0 for m in range(60)])
        calm.learn_burstiness([int(x) for x in rng.poisson(0.3, 60)])
    assert mailer.dispersion > 4
    assert (mailer.machine, mailer.votes) == (False, False)
    assert (batches.machine, batches.votes) == (True, False)
    assert (trickle.machine, trickle.votes) == (True, False)
    assert (calm.machine, calm.votes) == (False, True)


def test_a_bursty_operation_is_a_batch_until_its_clumping_is_learned() -> None:
    """A stored baseline from before clumping was learned keeps being judged as it was."""
    stored = Baseline(dispersion=7.0).to_dict()
    del stored["clumping"]
    old = Baseline.from_dict(stored)
    assert old.clumping is None
    assert old.machine
    old.learn_burstiness([int(x) for x in np.random.default_rng(3).poisson(17.0, 60)])
    assert old.clumping is not None
    assert not old.machine


@given(st.lists(st.integers(0, 10_000), min_size=60, max_size=60))
def test_clumping_is_finite_and_stored(minutes: list[int]) -> None:
    baseline = Baseline()
    baseline.learn_burstiness(minutes)
    baseline.learn_burstiness(minutes[::-1])
    assert baseline.clumping is None or 0 <= baseline.clumping < math.inf
    assert Baseline.from_dict(baseline.to_dict()).clumping == baseline.clumping


def test_hours_expecting_few_calls_do_not_teach_the_spread() -> None:
    baseline = Baseline()
    for i in range(200):  # Nights: 2 calls where 9 were due, Poisson noise.
        baseline.learn_volume(3600 * i, math.log(2.5 / 9.5), 0.2, expected=9.0)
    assert baseline.down == list(PRIOR_DOWN)
    assert baseline.offset == 0.0
