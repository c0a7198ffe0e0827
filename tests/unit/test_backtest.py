"""The backtest report: episodes per operation from status changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from detector.backtest import backtest, render
from detector.status import Status, StatusChange

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def change(
    op: str, hours: float, previous: Status | None, status: Status, **observed: int
) -> StatusChange:
    at = T0 + timedelta(hours=hours)
    return StatusChange(
        id=f"{op}{hours}{status.value}",
        operation=op,
        previous=previous,
        status=status,
        at=at,
        reason=f"{status.value} at {hours}",
        observed=dict(observed),
    )


def test_an_episode_runs_from_healthy_to_healthy_and_keeps_its_worst_status() -> None:
    changes = [
        change("A", 0, None, Status.LEARNING),
        change("A", 2, Status.LEARNING, Status.OK),
        change("A", 30, Status.OK, Status.SOME_PROBLEMS, minutes=15),
        change("A", 30.5, Status.SOME_PROBLEMS, Status.MANY_PROBLEMS),
        change("A", 31, Status.MANY_PROBLEMS, Status.OK),
        change("A", 50, Status.OK, Status.NO_CALLS, minutes=40),
        change("B", 24, None, Status.LEARNING),
    ]
    reports = backtest(changes, T0 + timedelta(days=100))
    a = next(r for r in reports if r.operation == "A")
    assert [e.first for e in a.episodes] == [Status.SOME_PROBLEMS, Status.NO_CALLS]
    assert a.episodes[0].worst is Status.MANY_PROBLEMS
    assert a.episodes[0].end == T0 + timedelta(hours=31)
    assert a.episodes[0].evidence_minutes == 15
    assert a.episodes[1].end is None
    assert round(a.per_100_days, 3) == 2.0
    b = next(r for r in reports if r.operation == "B")
    assert b.episodes == []
    assert reports[0] is a  # The noisiest first.
    lines = render(reports)
    assert "over budget" in lines[1]
    assert any("still on" in line for line in lines)
