"""One time-range grammar for schedules and mute windows, ranges past midnight included."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from detector.notify.subscriptions import parse_subscriptions
from detector.opconfig import parse_detection_config
from detector.timerange import TimeRange

MON, FRI, SAT, SUN = 0, 4, 5, 6
ranges = TypeAdapter(TimeRange)


def at(hh_mm: str) -> int:
    hours, minutes = hh_mm.split(":")
    return int(hours) * 60 + int(minutes)


@pytest.mark.parametrize(
    ("weekday", "time", "inside"),
    [
        (MON, "22:00", True),
        (MON, "21:59", False),
        (FRI, "23:30", True),  # Friday evening is a weekday's evening...
        (SAT, "05:59", True),  # ...and runs on into Saturday morning.
        (SAT, "06:00", False),
        (SAT, "22:30", False),
        (MON, "03:00", False),  # Monday's early hours belong to Sunday night.
        (SUN, "23:00", False),
        (MON, "12:00", False),
    ],
)
def test_weekday_nights_run_past_midnight(weekday: int, time: str, inside: bool) -> None:
    night = TimeRange.model_validate("weekdays 22:00-06:00")
    assert night.contains(weekday, at(time)) is inside


def test_schedules_and_mute_windows_share_the_grammar() -> None:
    rules = parse_detection_config(
        {"rules": [{"operation": "Night.*", "schedule": "weekdays 22:00-06:00"}]}, "rules.yaml"
    )
    schedule = rules.rule_for("Night.Batch", None).schedule
    subscriptions = parse_subscriptions(
        {
            "subscribers": [
                {"email": "a@b.c", "operations": ["*"], "mute": ["weekdays 22:00-06:00"]}
            ]
        },
        "subscriptions.yaml",
    )
    mute = subscriptions.subscribers[0].mute[0]
    assert schedule == mute


@pytest.mark.parametrize(
    "text",
    [
        "mondays 09:00-18:00",
        "daily 25:00-26:00",
        "daily 09:60-10:00",
        "daily 10:00-10:00",
        "daily 24:00-06:00",
        "weekdays 9-5",
    ],
)
def test_malformed_ranges_are_refused_with_an_example(text: str) -> None:
    with pytest.raises(ValidationError, match=r"daily|whole day|time of day|24:00"):
        ranges.validate_python(text)


@given(
    st.sampled_from(["daily", "weekdays", "weekends"]),
    st.integers(1, 1438).flatmap(lambda end: st.tuples(st.integers(end + 1, 1439), st.just(end))),
    st.integers(0, 6),
    st.integers(0, 1439),
)
def test_a_range_past_midnight_is_its_two_halves(
    days: str, start_end: tuple[int, int], weekday: int, minute: int
) -> None:
    """``a-b`` with b < a covers exactly ``a-24:00`` that day and ``00:00-b`` the next."""
    start, end = start_end
    whole = TimeRange(days=days, start=start, end=end)  # type: ignore[arg-type]
    evening = TimeRange(days=days, start=start, end=1440)  # type: ignore[arg-type]
    morning = TimeRange(days=days, start=0, end=end)  # type: ignore[arg-type]
    expected = evening.contains(weekday, minute) or morning.contains((weekday - 1) % 7, minute)
    assert whole.contains(weekday, minute) is expected
