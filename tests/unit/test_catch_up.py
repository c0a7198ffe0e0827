"""Catching up over a long gap costs a bounded number of engine steps, whatever the
gap: a call stamped 1970 or months of silence must not walk one step per minute (that
took minutes; a bounded catch-up takes about 0.1 s per operation: the budgets below leave
room for a busy shared machine)."""

from __future__ import annotations

import io
import time
from pathlib import Path

import orjson
import pytest

from agents.commands import run_replay
from detector.engine import DORMANT_SECONDS, Engine
from detector.opconfig import DetectionConfig
from detector.state import OperationState
from detector.status import Status, StatusChange
from detector.windows import WindowCounts
from tests.unit.detection_helpers import DAY, MONDAY, poisson, run

NOW = 1_800_000_000  # 2027; every gap below is decades or months long.


def test_a_call_stamped_1970_then_one_now_is_judged_within_a_second() -> None:
    engine = Engine(DetectionConfig())
    windows = {0: WindowCounts(1, 0, 0), NOW: WindowCounts(3, 1, 0)}
    started = time.perf_counter()
    state, changes = engine.advance(None, "A", None, windows, NOW + 60)
    elapsed = time.perf_counter() - started
    assert elapsed < 2.0, f"took {elapsed:.2f} s"
    assert state is not None
    assert state.last_boundary == NOW + 60
    assert state.total_calls == 4
    assert state.last_call_boundary == NOW + 60
    assert [c.status for c in changes] == [Status.LEARNING]


def _learned_busy() -> OperationState:
    state, changes = run(poisson(lambda _: 5.0, 0.01), 3)
    assert state is not None
    assert changes[-1].status is Status.OK
    return state


def test_months_of_silence_go_no_calls_hold_it_and_recover_on_the_next_call() -> None:
    state = _learned_busy()
    engine = Engine(DetectionConfig())
    quiet_from = state.last_boundary
    resume = quiet_from + 120 * DAY
    started = time.perf_counter()
    state_, changes = engine.advance(state, "Op", "test", {resume: WindowCounts(4, 0, 0)}, resume)
    assert time.perf_counter() - started < 2.0
    assert [c.status for c in changes] == [Status.NO_CALLS]
    assert changes[0].at.timestamp() < quiet_from + 3600  # Busy: judged within the hour.
    assert state_ is not None
    assert state_.last_boundary == resume
    _, woke = engine.advance(state_, "Op", "test", {resume: WindowCounts(4, 0, 0)}, resume + 60)
    assert [c.status for c in woke] == [Status.OK]
    assert "calls resumed" in woke[0].reason


def _changes_and_state(
    steps: list[int], windows: dict[int, WindowCounts]
) -> tuple[list[StatusChange], dict[str, object]]:
    engine = Engine(DetectionConfig())
    state = _learned_busy()
    changes: list[StatusChange] = []
    for until in steps:
        state_, new = engine.advance(state, "Op", "test", windows, until)
        assert state_ is not None
        state = state_
        changes.extend(new)
    return changes, state.to_dict()


def test_one_big_step_and_many_small_ones_decide_the_same_across_dormancy() -> None:
    """The live evaluator advances a window at a time, replay a whole gap at once: the
    dormant skip must give both the same changes and the same state."""
    start = MONDAY + 3 * DAY
    resume = start + 3 * DORMANT_SECONDS
    windows = {resume + i * 60: WindowCounts(6, 0, 0) for i in range(60)}
    end = resume + 3600
    one, state_one = _changes_and_state([end], windows)
    hourly, state_hourly = _changes_and_state(list(range(start + 3600, end + 1, 3600)), windows)
    assert [c.id for c in one] == [c.id for c in hourly]
    assert state_one == state_hourly
    assert [c.status for c in one] == [Status.NO_CALLS, Status.OK]


def test_replay_of_1970_and_now_lines_is_fast_and_reports_the_stragglers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "events.jsonl"
    lines = [
        {"operation": "A", "status": "ok", "timestamp": 1},
        {"operation": "C", "status": "received", "event_id": "e1", "timestamp": 1},
        {"operation": "A", "status": "ok", "timestamp": NOW},
        {"operation": "A", "status": "ok", "timestamp": 1},
        {"operation": "A", "count": 10**18, "timestamp": NOW + 1},
        {"operation": "A", "status": "ok", "timestamp": NOW + 120},
    ]
    events.write_bytes(b"\n".join(orjson.dumps(line) for line in lines) + b"\n")
    out = io.BytesIO()
    started = time.perf_counter()
    run_replay(events, DetectionConfig(), 60, out)
    elapsed = time.perf_counter() - started
    assert elapsed < 3.0, f"took {elapsed:.2f} s"
    report = capsys.readouterr().err
    assert ":5: skipped: count_too_large" in report
    assert "1 invalid lines skipped; 1 events out of order skipped" in report
    changes = [orjson.loads(line) for line in out.getvalue().splitlines()]
    assert [(c["operation"], c["status"]) for c in changes] == [
        ("A", "learning"),
        ("C", "learning"),
        ("C", "some_problems"),  # Its event is stuck in received since 1970.
    ]
