"""The dashboard's activity figures: today's totals reset at local midnight, and the
24 hourly buckets roll forward with event time."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from detector.summary import HOURS, OperationSummary
from detector.windows import WindowCounts

MOSCOW = ZoneInfo("Europe/Moscow")


def at(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


def test_today_resets_at_local_midnight() -> None:
    summary = OperationSummary(operation="A")
    summary.add_window(at("2026-03-03T20:00:00+00:00"), WindowCounts(5, 1, 0), MOSCOW)
    assert (summary.day, summary.calls_today) == ("2026-03-03", 5)
    # 21:00 UTC is midnight in Moscow: a new day there.
    summary.add_window(at("2026-03-03T21:00:00+00:00"), WindowCounts(2, 0, 1), MOSCOW)
    assert (summary.day, summary.calls_today, summary.errors_today) == ("2026-03-04", 2, 0)
    assert summary.retries_today == 1


def test_hourly_buckets_roll_forward() -> None:
    summary = OperationSummary(operation="A")
    base = at("2026-03-03T00:00:00+00:00")
    for hour in range(30):
        summary.add_window(base + hour * 3600 + 60, WindowCounts(hour, hour % 2, 0), MOSCOW)
    assert summary.hourly_calls == list(range(30 - HOURS, 30))
    assert summary.hour_start == base + 29 * 3600
    # A late window for an hour still on the chart lands in its bucket.
    summary.add_window(base + 28 * 3600 + 120, WindowCounts(100, 0, 0), MOSCOW)
    assert summary.hourly_calls[-2] == 128


def test_a_gap_longer_than_a_day_clears_the_chart() -> None:
    summary = OperationSummary(operation="A")
    base = at("2026-03-03T00:00:00+00:00")
    summary.add_window(base, WindowCounts(7, 0, 0), MOSCOW)
    summary.add_window(base + 3 * 86400, WindowCounts(1, 0, 0), MOSCOW)
    assert summary.hourly_calls == [0] * (HOURS - 1) + [1]
