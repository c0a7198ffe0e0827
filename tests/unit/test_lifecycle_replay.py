"""Lifecycle traffic replayed: the issue's targets, offline (the worker runs the same
code, see tests/integration/test_lifecycle_live.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from detector import replay as replay_module
from detector.events import OperationCall
from detector.opconfig import DetectionConfig, parse_detection_config
from detector.replay import ReplayStats, replay
from detector.simulate import DAY, Profile
from detector.simulate_events import LifecycleIncident, lifecycle_events
from detector.status import Status, StatusChange

START = int(datetime(2026, 3, 2, tzinfo=UTC).timestamp())  # A Monday.
BUSY = Profile("Crm.Contact", "crm", 3000, "daytime", 0.0)
SMALL = Profile("Shop.Order", "shop", 400, "daytime", 0.0)
OFFICE = Profile("Erp.Invoice", "erp", 300, "office", 0.0)
AT_14 = START + 3 * DAY + 14 * 3600  # Thursday 14:00, after three days of learning.


def run(
    profiles: list[Profile], incidents: list[LifecycleIncident], days: float
) -> tuple[list[StatusChange], ReplayStats, int]:
    messages = [
        OperationCall.model_validate(m)
        for m in lifecycle_events(profiles, incidents, START, START + int(days * DAY))
    ]
    stats = ReplayStats()
    changes = list(replay(messages, DetectionConfig(), stats=stats))
    return changes, stats, len({m.event_id for m in messages})


def first_problem(changes: list[StatusChange], operation: str) -> StatusChange:
    return next(c for c in changes if c.operation == operation and c.status.is_problem)


def test_events_stuck_in_processing_from_14_00_are_reported_between_14_15_and_14_35() -> None:
    incident = LifecycleIncident(BUSY.operation, "stuck", AT_14, AT_14 + 3600)
    changes, _, _ = run([BUSY], [incident], 3.7)
    found = first_problem(changes, BUSY.operation)
    assert AT_14 + 15 * 60 <= found.at.timestamp() <= AT_14 + 35 * 60
    assert "stuck in processing for more than 15 min (oldest since 14:00)" in found.reason
    worst = [c for c in changes if c.status is Status.MANY_PROBLEMS]
    assert worst, "most recent events stuck is many_problems"
    assert worst[0].at.timestamp() <= AT_14 + 35 * 60


def test_retries_that_never_resolve_are_reported_within_30_minutes_naming_the_retries() -> None:
    incident = LifecycleIncident(SMALL.operation, "retry_forever", AT_14, AT_14 + 2 * 3600)
    changes, _, _ = run([SMALL], [incident], 3.7)
    found = first_problem(changes, SMALL.operation)
    assert AT_14 <= found.at.timestamp() <= AT_14 + 30 * 60
    assert found.status is Status.MANY_PROBLEMS
    assert "retrying for more than 15 min: 503 destination unavailable" in found.reason
    assert "in a row with the same error 503" in found.reason


def test_two_weeks_of_normal_lifecycle_traffic_count_each_event_once_and_raise_nothing() -> None:
    changes, stats, events = run([BUSY, SMALL, OFFICE], [], 14)
    assert stats.calls == events  # Not one per status message (about three per event).
    assert stats.events > 3 * events
    problems = [c for c in changes if c.status.is_problem]
    assert problems == []


def test_replay_decides_the_same_whatever_its_blocks_and_advances(monkeypatch: Any) -> None:
    """Blocks of lines and advances through an hour at once (``_Run.steady``) are only
    speed: one boundary at a time, in blocks of 7 lines, gives the same changes, with
    events late in the lifecycle file and an incident of each kind."""
    incidents = [
        LifecycleIncident(BUSY.operation, "stuck", AT_14, AT_14 + 3600),
        LifecycleIncident(SMALL.operation, "retry_forever", AT_14, AT_14 + 2 * 3600),
    ]
    messages = [
        OperationCall.model_validate(m)
        for m in lifecycle_events([BUSY, SMALL], incidents, START, START + int(3.7 * DAY))
    ]
    for i in range(500, len(messages), 997):  # Late: a minute behind its neighbours.
        messages[i] = messages[i].model_copy(update={"timestamp": messages[i - 1].timestamp - 90})
    stats = ReplayStats()
    fast = [c.model_dump() for c in replay(messages, DetectionConfig(), stats=stats)]
    monkeypatch.setattr(replay_module, "BLOCK", 7)
    monkeypatch.setattr(replay_module._Run, "steady", lambda self: None)
    slow_stats = ReplayStats()
    slow = [c.model_dump() for c in replay(messages, DetectionConfig(), stats=slow_stats)]
    assert stats.late > 0
    assert any(c["status"] not in ("ok", "learning") for c in fast)
    assert fast == slow
    assert (stats.calls, stats.events, stats.late) == (
        slow_stats.calls,
        slow_stats.events,
        slow_stats.late,
    )


def test_a_replay_waiting_a_grace_judges_the_last_windows_with_their_lifecycles() -> None:
    """With a grace, the last windows are judged only when the file ends (no grace
    then): the snapshots up to there of a lifecycle that had no record since come from
    the counting side's last block (``Counting.finish``), as without a grace. (A day
    is promised between calls: the stuck events, not the silence, are the finding.)"""
    incident = LifecycleIncident(BUSY.operation, "stuck", AT_14, AT_14 + 3600)
    busy = lifecycle_events([BUSY], [incident], START, AT_14 + 10 * 60)
    small = lifecycle_events([SMALL], [], START, AT_14 + 40 * 60)
    messages = [
        OperationCall.model_validate(m)
        for m in sorted([*busy, *small], key=lambda m: float(m["timestamp"]))
    ]
    rules = {"rules": [{"operation": BUSY.operation, "expect_every": "1d"}]}
    config = parse_detection_config(rules, "test")
    waiting = list(replay(messages, config, grace=1800.0))
    assert waiting == list(replay(messages, config))
    assert "stuck in processing" in first_problem(waiting, BUSY.operation).reason
