"""The detection engine, rule by rule, on synthetic traffic with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from detector.opconfig import parse_detection_config
from detector.status import Status
from tests.unit.detection_helpers import (
    DAY,
    MONDAY,
    Traffic,
    hour_of,
    poisson,
    problems,
    run,
    weekday_of,
)


def daytime(per_minute: float) -> float:
    return per_minute


def office_hours(ts: int) -> float:
    return 3.0 if weekday_of(ts) < 5 and 9 <= hour_of(ts) < 18 else 0.0


def with_incident(base: Traffic, start: int, end: int, kind: str) -> Traffic:
    def traffic(ts: int, rng: np.random.Generator) -> tuple[int, int]:
        calls, errors = base(ts, rng)
        if start <= ts < end:
            if kind == "silence":
                return 0, 0
            if kind == "all_failing":
                return calls, calls
            if kind == "errors":
                return calls, int(rng.binomial(calls, 0.6))
            if kind == "flood":
                more = calls * 8
                return more, int(rng.binomial(more, 0.01))
            if kind == "drop":
                return int(rng.binomial(calls, 0.35)), 0
        return calls, errors

    return traffic


def test_new_operation_learns_then_is_ok() -> None:
    _, changes = run(poisson(lambda ts: 2.0, 0.01), 0.5)
    assert [c.status for c in changes[:2]] == [Status.LEARNING, Status.OK]
    assert changes[0].previous is None
    assert changes[1].at.timestamp() - changes[0].at.timestamp() == 2 * 3600


def test_stationary_traffic_gives_no_problem() -> None:
    _, changes = run(poisson(lambda ts: 1.5, 0.02), 10)
    assert problems(changes) == []


def test_busy_operation_silence_is_no_calls_within_minutes() -> None:
    start = MONDAY + 8 * DAY + 12 * 3600
    traffic = with_incident(poisson(lambda ts: 20.0, 0.01), start, start + 3600, "silence")
    _, changes = run(traffic, 9)
    found = problems(changes, start)
    assert found[0].status is Status.NO_CALLS
    assert found[0].at.timestamp() - start <= 5 * 60
    assert "0 calls in the last" in found[0].reason
    assert "expected" in found[0].reason
    assert any(c.status is Status.OK and c.at.timestamp() > start + 3600 for c in changes)


def test_quiet_night_and_weekend_of_an_office_hours_operation_are_not_silence() -> None:
    _, changes = run(poisson(office_hours, 0.01), 21)
    assert problems(changes) == []


def test_office_hours_operation_silent_on_a_weekday_morning_is_no_calls() -> None:
    start = MONDAY + 14 * DAY + 9 * 3600  # The third Monday, 09:00.
    traffic = with_incident(poisson(office_hours, 0.01), start, start + 8 * 3600, "silence")
    _, changes = run(traffic, 15)
    found = problems(changes, start)
    assert found
    assert found[0].status is Status.NO_CALLS
    assert found[0].at.timestamp() - start <= 15 * 60
    assert "on a Monday" in found[0].reason


def test_nightly_batch_between_runs_is_not_silence() -> None:
    def nightly(ts: int, rng: np.random.Generator) -> tuple[int, int]:
        minute = (ts % DAY) // 60
        return (int(rng.poisson(60)), 0) if 120 <= minute < 123 else (0, 0)

    _, changes = run(nightly, 14)
    # The first nights teach how bursty the batch is; from then on, never an alarm.
    assert problems(changes, after=MONDAY + 2 * DAY) == []


def test_rare_operation_silence_is_detected_within_hours_of_daytime() -> None:
    def rare(ts: int) -> float:  # About 30 calls a day, in daytime.
        return 30 / (12 * 60) if 8 <= hour_of(ts) < 20 else 0.0

    start = MONDAY + 14 * DAY + 8 * 3600
    traffic = with_incident(poisson(rare, 0.0), start, start + 2 * DAY, "silence")
    _, changes = run(traffic, 16)
    found = problems(changes, start)
    assert found[0].status is Status.NO_CALLS
    assert 2 * 3600 <= found[0].at.timestamp() - start <= 8 * 3600


def test_all_calls_failing_is_many_problems() -> None:
    start = MONDAY + 3 * DAY + 10 * 3600
    traffic = with_incident(poisson(lambda ts: 5.0, 0.01), start, start + 1800, "all_failing")
    _, changes = run(traffic, 4)
    found = problems(changes, start)
    assert found[0].status is Status.MANY_PROBLEMS
    assert found[0].at.timestamp() - start <= 5 * 60
    assert "failed" in found[0].reason
    assert "normally" in found[0].reason


def test_a_batched_sync_failing_entirely_is_many_problems_at_once() -> None:
    """A quiet sync sends its calls in small batches (1.5 a minute): when all of them
    fail, the first minutes mix with the successes before and hold too few calls to be
    sure it is *all* of them, but the answer is a few minutes away; one right status
    beats ``some_problems`` then a fix."""
    batches = [3, 1, 0, 1, 2, 2, 3, 3, 0, 0, 2, 1, 1, 1]
    hour = MONDAY + 3 * DAY + 10 * 3600
    start = hour + 60 * (-(hour // 60) % len(batches))  # A batch of 3 is due at ``start``.

    def traffic(ts: int, rng: np.random.Generator) -> tuple[int, int]:
        calls = batches[(ts // 60) % len(batches)]
        # All failing from ``start``; one failure just before, so the first minutes are
        # already surprising while they mix failures with the successes before.
        failing = start <= ts < start + 3600 or start - 120 <= ts < start - 60
        return calls, calls if failing else int(rng.binomial(calls, 0.005))

    assert batches[(start // 60) % len(batches)] == 3
    _, changes = run(traffic, 4)
    found = problems(changes, start)
    assert found[0].status is Status.MANY_PROBLEMS
    assert found[0].at.timestamp() - start <= 6 * 60


def test_partial_errors_on_a_quiet_operation_add_up_over_two_hours() -> None:
    """30 calls an hour failing 30% instead of 5%: one hour (9 of 30) is not surprising
    enough under the ratio's wobble, the two hours together (18 of 60) are."""
    start = MONDAY + 5 * DAY + 18 * 3600

    def traffic(ts: int, rng: np.random.Generator) -> tuple[int, int]:
        minute = ts // 60
        if minute % 2:
            return 0, 0
        call = minute // 2  # Every 20th call fails; 3 in 10 during the incident.
        failing = call % 10 < 3 if start <= ts < start + 2 * 3600 else call % 20 == 0
        return 1, int(failing)

    _, changes = run(traffic, 6)
    found = problems(changes)
    assert found
    assert found[0].status is Status.SOME_PROBLEMS
    assert 60 * 60 < found[0].at.timestamp() - start <= 120 * 60
    assert "failed in the last 1 h" in found[0].reason


def test_high_baseline_error_ratio_is_judged_against_its_own_normal() -> None:
    """10% failing is this operation's normal (people mistype phone numbers); 60% is not."""
    base = poisson(lambda ts: 3.0, 0.10)
    _, quiet = run(base, 7)
    assert problems(quiet) == []
    start = MONDAY + 6 * DAY + 14 * 3600
    _, changes = run(with_incident(base, start, start + 3600, "errors"), 7)
    found = problems(changes, start)
    assert found
    assert found[0].status in (Status.SOME_PROBLEMS, Status.MANY_PROBLEMS)
    assert "normally 10%" in found[0].reason or "normally 9." in found[0].reason


def test_a_single_failure_never_changes_a_status() -> None:
    def one_failure(ts: int, rng: np.random.Generator) -> tuple[int, int]:
        return (1, 1) if ts == MONDAY + 3 * DAY + 600 else (int(rng.poisson(0.2)), 0)

    _, changes = run(one_failure, 4)
    assert problems(changes) == []


def test_retries_are_not_failures() -> None:
    from detector.engine import Engine
    from detector.opconfig import DetectionConfig
    from detector.windows import WindowCounts

    engine = Engine(DetectionConfig())
    windows = {MONDAY + m * 60: WindowCounts(10, 0, 9) for m in range(300)}
    _, changes = engine.advance(None, "Op", None, windows, MONDAY + 300 * 60)
    assert problems(changes) == []


@pytest.mark.parametrize("kind", ["flood", "drop"])
def test_volume_anomalies_are_some_problems(kind: str) -> None:
    start = MONDAY + 8 * DAY + 13 * 3600
    traffic = with_incident(poisson(lambda ts: 10.0, 0.01), start, start + 2 * 3600, kind)
    _, changes = run(traffic, 9)
    # Judged by the hour against the learned spread: within the incident's two hours.
    # (A 0.35x minute stream can also go quiet long enough for a brief ``no_calls``.)
    found = [c for c in problems(changes, start) if c.status is not Status.NO_CALLS]
    assert found[0].status is Status.SOME_PROBLEMS
    assert found[0].observed["volume"] == kind
    assert found[0].at.timestamp() <= start + 2 * 3600


def test_configured_expectation_overrides_the_learned_rate() -> None:
    config = parse_detection_config(
        {"rules": [{"operation": "Op", "expect_every": "15m", "schedule": "weekdays 09:00-18:00"}]},
        "test.yaml",
    )
    start = MONDAY + 9 * 3600 + 1800
    traffic = with_incident(poisson(office_hours, 0.0), start, start + 3600, "silence")
    _, changes = run(traffic, 1, config=config)
    found = problems(changes)
    assert found[0].status is Status.NO_CALLS
    assert found[0].at.timestamp() - start <= 16 * 60
    assert "at least one expected every 15 min" in found[0].reason


def test_a_night_schedule_past_midnight_is_watched() -> None:
    """``weekdays 22:00-06:00``: a gap at 01:00 on a weekday night is a problem; the
    same hours on a weekend night, outside the schedule, are not."""
    config = parse_detection_config(
        {"rules": [{"operation": "Op", "expect_every": "15m", "schedule": "weekdays 22:00-06:00"}]},
        "test.yaml",
    )

    def nights(ts: int) -> float:
        night = hour_of(ts) >= 22 or hour_of(ts) < 6
        weekday_night = weekday_of(ts) < 5 if hour_of(ts) >= 22 else weekday_of(ts - DAY) < 5
        return 2.0 if night and weekday_night else 0.0

    start = MONDAY + DAY + 3600  # Tuesday 01:00: Monday night.
    traffic = with_incident(poisson(nights, 0.0), start, start + 3600, "silence")
    _, changes = run(traffic, 1.5, config=config)
    found = problems(changes)
    assert [c.status for c in found] == [Status.NO_CALLS]
    assert 0 < found[0].at.timestamp() - start <= 16 * 60


def test_muted_operation_never_reports_problems() -> None:
    config = parse_detection_config({"rules": [{"operation": "Op", "mute": True}]}, "t.yaml")
    start = MONDAY + 3 * DAY
    traffic = with_incident(poisson(lambda ts: 5.0, 0.0), start, start + 3600, "all_failing")
    _, changes = run(traffic, 4, config=config)
    assert problems(changes) == []


def test_state_round_trip_keeps_every_decision() -> None:
    """A worker restarted from its stored state decides exactly as one that never stopped."""
    start = MONDAY + 5 * DAY + 11 * 3600
    traffic = with_incident(poisson(lambda ts: 4.0, 0.02), start, start + 3600, "all_failing")
    _, straight = run(traffic, 7)
    from detector.state import OperationState

    half, first = run(traffic, 5)
    assert half is not None
    restored = OperationState.from_dict(half.to_dict())
    _, second = run(traffic, 2, start=MONDAY + 5 * DAY, state=restored)
    assert [c.id for c in first + second] == [c.id for c in straight]


def test_change_ids_are_stable_and_unique() -> None:
    start = MONDAY + 3 * DAY + 10 * 3600
    traffic = with_incident(poisson(lambda ts: 5.0, 0.01), start, start + 1800, "all_failing")
    _, once = run(traffic, 4)
    _, again = run(traffic, 4)
    assert [c.id for c in once] == [c.id for c in again]
    assert len({c.id for c in once}) == len(once)


def test_a_trickle_after_silence_is_not_a_recovery_and_does_not_flap() -> None:
    """An office on a holiday: 5% of its traffic. One status for the day, not dozens."""
    office = MONDAY + 15 * DAY + 9 * 3600

    def traffic(ts: int, rng: np.random.Generator) -> tuple[int, int]:
        minute = ts % DAY // 60
        if not 9 * 60 <= minute < 18 * 60 or (ts // DAY + 3) % 7 >= 5:
            return 0, 0
        rate = 0.1 if office <= ts < office + 9 * 3600 else 2.0
        return int(rng.poisson(rate)), 0

    _, changes = run(traffic, 16)
    day = problems(changes, office - 3600)
    assert 1 <= len(day) <= 2, [(c.at, c.status, c.reason) for c in day]
