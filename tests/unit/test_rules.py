"""The rules one by one: pure functions of counts and a learned normal."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from detector import rules
from detector.opconfig import DEFAULT_RULE, Rule
from detector.stats import binomial_upper_log_p
from detector.status import Status

WHEN = (1, 14)  # A Tuesday, 14:00.


def hours(*residuals: float, variance: float = 0.001, first: int = 0) -> list[list[float]]:
    return [[first + 3600 * i, r, variance] for i, r in enumerate(residuals)]


DOWN = [0.08, 0.04, 0.02]  # A learned spread of ~28% an hour, 20% over 3 h, 14% over 8 h.


def test_a_single_low_hour_within_the_spread_is_not_a_drop() -> None:
    low = math.log(0.55)  # -0.6: about two spreads below normal.
    found = rules.hourly_volume(
        hours(0.0, 0.1, low), DOWN, math.log(2), 55, 100, 14, DEFAULT_RULE, WHEN
    )
    assert found is None


def test_a_sustained_drop_to_04x_is_caught_within_three_hours() -> None:
    drop = math.log(0.4)
    found = rules.hourly_volume(
        hours(0.0, 0.1, drop, drop, drop), DOWN, math.log(2), 40, 100, 14, DEFAULT_RULE, WHEN
    )
    assert found is not None
    assert found.status is Status.SOME_PROBLEMS
    assert found.observed["volume"] == "drop"
    assert found.observed["minutes"] in (60, 180)


def test_a_drop_is_not_reported_once_its_last_hour_recovered() -> None:
    drop = math.log(0.4)
    residuals = hours(drop, drop, drop, 0.0)
    assert rules.hourly_volume(residuals, DOWN, 0.7, 100, 100, 14, DEFAULT_RULE, WHEN) is None


def test_zero_calls_is_left_to_the_silence_rule() -> None:
    residuals = hours(-5.0, -5.0, -5.0)
    assert rules.hourly_volume(residuals, DOWN, 0.7, 0, 100, 14, DEFAULT_RULE, WHEN) is None


def test_a_campaign_below_three_times_the_recent_peak_is_business() -> None:
    campaign_peak = math.log(3.0)  # This form has seen 3x hours lately.
    four_times = hours(0.0, math.log(4.0))
    found = rules.hourly_volume(four_times, DOWN, campaign_peak, 400, 100, 14, DEFAULT_RULE, WHEN)
    assert found is None
    ten_times = hours(0.0, math.log(10.5))
    loop = rules.hourly_volume(ten_times, DOWN, campaign_peak, 1050, 100, 14, DEFAULT_RULE, WHEN)
    assert loop is not None
    assert loop.observed["volume"] == "flood"


def test_a_steady_operation_floods_at_three_times() -> None:
    found = rules.hourly_volume(hours(math.log(3.5)), DOWN, 0.0, 350, 100, 14, DEFAULT_RULE, WHEN)
    assert found is not None
    assert found.observed["volume"] == "flood"
    # An hour seen on one day only is a single sample: a form's first campaign is not a flood.
    assert (
        rules.hourly_volume(hours(math.log(3.5)), DOWN, 0.0, 350, 100, 1, DEFAULT_RULE, WHEN)
        is None
    )


def test_quiet_hours_and_unknown_baselines_are_not_judged() -> None:
    drop = hours(-2.0, -2.0, -2.0)
    assert rules.hourly_volume(drop, DOWN, 0.7, 1, 2.0, 14, DEFAULT_RULE, WHEN) is None
    assert rules.hourly_volume(drop, DOWN, 0.7, 10, 100, 0, DEFAULT_RULE, WHEN) is None


def test_the_drop_threshold_widens_for_young_baselines_and_low_sensitivity() -> None:
    assert rules.z_threshold(1e-4, 1) > rules.z_threshold(1e-4, 10) > 3.5
    low = Rule(sensitivity="low")
    assert rules.z_threshold(low.p_value, 10) > rules.z_threshold(1e-4, 10)


@given(st.floats(0.01, 1000), st.floats(1.0, 500))
def test_silence_evidence_never_exceeds_poisson_and_shrinks_with_burstiness(
    expected: float, dispersion: float
) -> None:
    weight = rules.silence_weight(expected, dispersion)
    assert 0 < weight <= expected * (1 + 1e-9)
    assert rules.silence_weight(expected, dispersion * 2) <= weight * (1 + 1e-9)


@given(st.floats(0.0, 1e4), st.floats(0.0, 5.0))
def test_level_doubt_only_ever_weakens_the_evidence(evidence: float, spread: float) -> None:
    doubted = rules.level_doubt(evidence, spread)
    assert 0 <= doubted <= evidence * (1 + 1e-9)


def test_missed_runs_waits_for_two_runs_and_the_jitter() -> None:
    period, jitter = 900, 120
    assert rules.missed_runs(2 * period, period, jitter, 60) is None
    found = rules.missed_runs(2 * period + jitter + 60, period, jitter, 60)
    assert found is not None
    assert found.status is Status.NO_CALLS
    assert found.expected == {"every_minutes": 15}


def test_resend_loop_needs_ten_times_and_significance() -> None:
    assert rules.resend_loop(15, 90, 10.0, 1.0, 14, DEFAULT_RULE, WHEN) is None
    found = rules.resend_loop(15, 400, 10.0, 1.0, 14, DEFAULT_RULE, WHEN)
    assert found is not None
    assert found.observed["volume"] == "flood"
    assert rules.resend_loop(15, 400, 10.0, 1.0, 0, DEFAULT_RULE, WHEN) is None
    assert rules.resend_loop(15, 400, 10.0, 1.0, 1, DEFAULT_RULE, WHEN) is None  # One day.


def test_error_spike_needs_both_surprise_and_effect() -> None:
    busy = [(60, 100_000, 600)]  # 0.6% on a 0.5% operation: significant, harmless.
    assert rules.error_spike(busy, 0.005, DEFAULT_RULE, learning=False) is None
    failing = [(5, 50, 45)]
    found = rules.error_spike(failing, 0.01, DEFAULT_RULE, learning=False)
    assert found is not None
    assert found.status is Status.MANY_PROBLEMS


def test_a_wobbly_error_ratio_is_judged_against_its_learned_wobble() -> None:
    bad_hour = [(60, 75, 28)]  # 37% on a 10% form whose ratio wobbles by a third.
    assert rules.error_spike(bad_hour, 0.10, DEFAULT_RULE, learning=False) is not None
    assert rules.error_spike(bad_hour, 0.10, DEFAULT_RULE, False, wobble=0.36) is None
    incident = [(60, 110, 38)]  # 35% on a 5% operation: seven times, not a wobble.
    found = rules.error_spike(incident, 0.05, DEFAULT_RULE, False, wobble=0.36)
    assert found is not None
    assert found.status is Status.SOME_PROBLEMS


def test_a_pinned_day_judges_the_error_ratio_against_the_days_own_level() -> None:
    """15 of 58 failing over two hours on a 5% operation whose ratio wobbles by 34%:
    a bad evening on an unknown day, an incident on a day that ran at 4% until then
    (10% left to wobble); on a day that ran at 20%, not even a bad hour."""
    evening = [(120, 58, 15)]
    assert rules.error_spike(evening, 0.053, DEFAULT_RULE, False, wobble=0.34) is None
    found = rules.error_spike(evening, 0.053, DEFAULT_RULE, False, 0.34, pinned=lambda: (0.04, 0.1))
    assert found is not None
    assert found.status is Status.SOME_PROBLEMS
    assert found.expected["error_ratio"] == 0.053  # The effect is judged against the normal.

    def bad_day() -> tuple[float, float]:
        return 0.2, 0.1

    assert rules.error_spike(evening, 0.053, DEFAULT_RULE, False, 0.34, pinned=bad_day) is None


def test_errors_that_come_together_count_as_fewer_failures() -> None:
    """4 of 5 calls failing on a 1.4% operation: one client retrying a failure three
    times where errors clump (3.4 at a time), an incident where they come one by one;
    everything failing on a busy operation is many problems either way."""
    retried = [(5, 5, 4)]
    assert rules.error_spike(retried, 0.014, DEFAULT_RULE, False) is not None
    assert rules.error_spike(retried, 0.014, DEFAULT_RULE, False, clump=3.4) is None
    failing = [(5, 200, 190)]
    found = rules.error_spike(failing, 0.014, DEFAULT_RULE, False, clump=3.4)
    assert found is not None
    assert found.status is Status.MANY_PROBLEMS


@given(
    st.integers(1, 200),
    st.integers(1, 200),
    st.floats(0.001, 0.5),
    st.floats(0.0, 0.7),
    st.floats(1.0, 8.0),
)
def test_clumps_only_ever_weaken_the_evidence(
    k: int, n: int, q: float, wobble: float, clump: float
) -> None:
    k = min(k, n)
    lookbacks = [(60, n, k)]
    plain = rules.error_spike(lookbacks, q, DEFAULT_RULE, False, wobble)
    clumped = rules.error_spike(lookbacks, q, DEFAULT_RULE, False, wobble, clump=clump)
    rank = {None: 0, Status.SOME_PROBLEMS: 1, Status.MANY_PROBLEMS: 2}
    assert (
        rank[None if clumped is None else clumped.status]
        <= rank[None if plain is None else plain.status]
    )


@given(st.integers(1, 200), st.integers(1, 200), st.floats(0.001, 0.5), st.floats(0.01, 0.7))
def test_the_wobble_only_ever_weakens_the_evidence(k: int, n: int, q: float, wobble: float) -> None:
    k = min(k, n)
    plain = binomial_upper_log_p(k, n, q)
    assert plain <= rules.wobbly_upper_log_p(k, n, q, wobble) <= 0.0


def test_silence_fires_on_doubted_evidence_past_the_threshold() -> None:
    assert rules.silence(600, 14, 14, (0.0, 0.0), 13, WHEN) is not None  # No doubt: 14 > 13.
    assert rules.silence(600, 30, 30, (0.0, 0.1), 13, WHEN) is not None  # log1p(3)/0.1 = 13.9,
    assert rules.silence(600, 20, 20, (0.0, 0.1), 13, WHEN) is None  # log1p(2)/0.1 = 11.0.
    # The same silence on a day running at half its level is weaker evidence.
    assert rules.silence(600, 30, 30, (math.log(0.5), 0.1), 13, WHEN) is None


def test_the_hour_so_far_pins_the_level() -> None:
    busy_mean, busy_var = rules.level_estimate(400, 400, 0.08, 3.0)
    assert abs(busy_mean) < 1e-6
    assert busy_var < 0.01  # Known within ~9%.
    _, rare_var = rules.level_estimate(4, 4, 0.08, 1.0)
    assert rare_var > 0.5 * 0.08  # Four calls say little: the learned spread stays.
    low_mean, _ = rules.level_estimate(200, 400, 0.08, 1.0)
    assert math.log(0.45) < low_mean < math.log(0.55)  # Half as busy, barely shrunk.
    assert rules.level_estimate(4000, 400, 0.08, 1.0)[0] == 0.0  # A surge is not trusted.
    assert rules.level_estimate(0, 0, 0.08, 1.0) == (0.0, 0.08)  # Nothing seen: the prior.


@given(st.floats(0, 1e5), st.floats(0, 1e5), st.floats(0, 1), st.floats(1, 100))
def test_the_level_estimate_never_raises_the_level_nor_removes_its_doubt(
    calls: float, expected: float, spread: float, dispersion: float
) -> None:
    mean, variance = rules.level_estimate(calls, expected, spread, dispersion)
    assert mean <= 0.0
    assert variance > 0


def test_the_log_count_variance_lies_between_the_observed_and_expected_levels() -> None:
    low, high = rules.log_count_variance(1, 8, 1.0), 1 / 8.5
    assert high < low < 1 / 1.5  # 1 call where 8 were due: a Poisson-thick lower tail.


@given(st.floats(0, 100), st.floats(0, 0.99), st.floats(-50, 50))
def test_a_possible_holiday_only_ever_weakens_silence_evidence(
    evidence: float, share: float, log_odds: float
) -> None:
    mixed = rules.holiday_mixture(evidence, share, log_odds)
    assert mixed <= evidence + 1e-9
    holiday = 1 / (1 + math.exp(-log_odds))
    assert mixed <= -math.log(holiday) + share * evidence + 1e-9


def test_an_office_silent_on_a_possible_holiday_waits_for_the_days_evidence() -> None:
    prior = math.log(1 / 30)
    assert rules.holiday_mixture(20, 0.0, -math.inf) == 20  # A Saturday or no doubt.
    assert rules.holiday_mixture(20, 0.0, prior) < 4  # 1 in 30: at most log(30).
    assert rules.holiday_mixture(20, 0.0, prior - 30) > 19  # Clearly an ordinary day.
    assert rules.holiday_mixture(20, 0.7, prior + 10) < 15  # A site: its weekend rate.


def _sequential(falls: list[float], spread: float = 0.08) -> list[float]:
    run = [0.0, 0.0, 0.0]
    for residual in falls:
        run = rules.drop_evidence(run, residual, 0.01, spread, 0.0)
    return run


def test_a_sustained_drop_accumulates_evidence_and_a_single_low_hour_fades() -> None:
    drop = math.log(0.4)  # About three spreads an hour.
    run = _sequential([0.0, drop, drop])
    assert rules.sustained_drop(run, drop, 40, 100, 14, DEFAULT_RULE, WHEN) is None
    run = _sequential([0.0, drop, drop, drop])
    found = rules.sustained_drop(run, drop, 40, 100, 14, DEFAULT_RULE, WHEN)
    assert found is not None
    assert found.observed["volume"] == "drop"
    assert found.observed["minutes"] == 180
    deep = math.log(0.1)  # One very low hour, then normal: never a sustained drop.
    for tail in ([0.0], [0.0, 0.0]):
        run = _sequential([deep, *tail])
        assert rules.sustained_drop(run, 0.0, 40, 100, 14, DEFAULT_RULE, WHEN) is None
    assert _sequential([deep, 0.0, 0.0, 0.0, 0.0]) == [0.0, 0.0, 0.0]


def test_a_sustained_drop_needs_the_effect_and_a_baseline_of_some_days() -> None:
    mild = math.log(0.7)  # Many small falls: more than the slack, not a 40% drop.
    run = _sequential([mild] * 12, spread=0.01)
    assert run[0] > 10
    assert rules.sustained_drop(run, mild, 70, 100, 14, DEFAULT_RULE, WHEN) is None
    drop = math.log(0.4)
    run = _sequential([drop] * 3)
    assert rules.sustained_drop(run, drop, 40, 100, 14, DEFAULT_RULE, WHEN) is not None
    assert rules.sustained_drop(run, drop, 40, 100, 0, DEFAULT_RULE, WHEN) is None
    strict = Rule(sensitivity="low")
    assert rules.sustained_drop(run, drop, 40, 100, 14, strict, WHEN) is None


@given(st.lists(st.floats(-3.0, 3.0), max_size=30))
def test_the_drop_evidence_never_goes_negative_nor_grows_on_normal_hours(
    residuals: list[float],
) -> None:
    run = _sequential(residuals)
    assert run[0] >= 0
    assert run[1] >= 0
    assert _sequential([*residuals, 0.0])[0] <= max(0.0, run[0] - rules.CUSUM_SLACK) + 1e-9
