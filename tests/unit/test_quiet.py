"""Quiet windows judged in one go (``detector.quiet``) leave every state and change
exactly as window-by-window steps do: same floats, same decisions, live or replay."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
import pytest

from detector import engine as engine_module
from detector.engine import Engine
from detector.events import OperationCall
from detector.opconfig import DetectionConfig
from detector.replay import settle_all
from detector.simulate import REALISTIC_PROFILES, Realism, generate, suite_incidents
from detector.state import OperationState
from detector.windows import WindowCounts
from tests.unit.detection_helpers import DAY, MONDAY

DAYS = 5


def _windows(seed: int) -> dict[str, dict[int, WindowCounts]]:
    """Five realistic days (bursty, campaigns, scheduled jobs) with an incident of
    every kind on the fourth and fifth, as per-operation window counts."""

    incidents = []  # The realistic suite's, each at its time of day on the 4th or 5th.
    for i, incident in enumerate(suite_incidents(MONDAY, realistic=True)):
        shift = incident.start - MONDAY - (incident.start - MONDAY) % DAY - (3 + i % 2) * DAY
        incidents.append(replace(incident, start=incident.start - shift, end=incident.end - shift))
    realism = Realism(origin=MONDAY)
    records = generate(
        REALISTIC_PROFILES, incidents, MONDAY, MONDAY + DAYS * DAY, seed=seed, realism=realism
    )
    windows: dict[str, dict[int, WindowCounts]] = {}
    for record in records:
        call = OperationCall.model_validate(record)
        start = int(record["timestamp"] // 60) * 60
        counts = windows.setdefault(call.operation, {}).setdefault(start, WindowCounts())
        calls, errors, retries = call.tally()
        counts.add(calls, errors, retries)
        if errors:  # Codes of their own: the last hour's are kept by window.
            counts.add_codes({f"E{start // 60 % 3}": errors})
    return windows


def _run(windows: dict[str, dict[int, WindowCounts]], strides: list[int]) -> list[Any]:
    """Every operation advanced by ``strides`` windows at a time, settled after each:
    the changes and every state after each advance."""
    engine = Engine(DetectionConfig())
    states: dict[str, OperationState | None] = dict.fromkeys(windows)
    seen: list[Any] = []
    until = MONDAY
    for stride in strides:
        until += stride * 60
        for operation, own in windows.items():
            state, changes = engine.advance(states[operation], operation, None, own, until)
            states[operation] = state
            seen += [change.model_dump_json() for change in changes]
        settle_all(engine, states)
        seen.append(orjson.dumps({k: s and s.to_dict() for k, s in states.items()}))
    return seen


@pytest.mark.parametrize("seed", [1, 2])
def test_quiet_windows_decide_as_steps_do(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    windows = _windows(seed)
    rng = random.Random(seed)
    # Live advances a window or two at a time, replay an hour; any stride must agree.
    strides: list[int] = []
    while sum(strides) < DAYS * 1440:
        strides.append(rng.choice([1, 2, 7, 60, 60, 60, 90]))
    quiet = _run(windows, strides)
    monkeypatch.setattr(engine_module, "quiet_windows", lambda *args: 0)
    stepped = _run(windows, strides)
    assert len(quiet) == len(stepped)
    for got, want in zip(quiet, stepped, strict=True):
        assert got == want
    assert any(b"many_problems" in line for line in quiet if isinstance(line, bytes))


def _erratic(seed: int) -> dict[str, dict[int, WindowCounts]]:
    """Traffic that keeps crossing the rules' thresholds: error ratios jumping around
    the least that is a finding, silences of every length, surges and resend loops."""
    rng = np.random.default_rng(seed)
    windows: dict[str, dict[int, WindowCounts]] = {}
    for operation, rate in (("Busy", 40.0), ("Steady", 6.0), ("Rare", 0.3)):
        own = windows[operation] = {}
        minute = 0
        while minute < DAYS * 1440:
            span = int(rng.integers(5, 90))
            kind = rng.choice(["normal", "normal", "normal", "errors", "silence", "surge"])
            level = rate * (1 + 0.8 * np.sin(2 * np.pi * minute / 1440))
            if kind == "silence" and minute > 1440:
                minute += span
                continue
            if kind == "surge" and minute > 1440:
                level *= float(rng.choice([3.0, 12.0, 30.0]))
            ratio = (
                float(rng.choice([0.01, 0.04, 0.07, 0.1, 0.2, 0.6])) if kind == "errors" else 0.01
            )
            for m in range(minute, minute + span):
                calls = int(rng.poisson(level))
                if calls:
                    counts = own[MONDAY + m * 60] = WindowCounts()
                    counts.add(calls, int(rng.binomial(calls, ratio)), 0)
                    if rng.random() < 0.002:  # Repeated ids now and then, a loop's rarely.
                        counts.repeats = int(rng.integers(1, calls + 1))
                        counts.looped = int(rng.integers(0, counts.repeats + 1))
            minute += span
    return windows


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_quiet_windows_decide_as_steps_do_near_every_threshold(
    monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    windows = _erratic(seed)
    strides = [60] * (DAYS * 24)
    quiet = _run(windows, strides)
    monkeypatch.setattr(engine_module, "quiet_windows", lambda *args: 0)
    assert quiet == _run(windows, strides)


def test_quiet_windows_take_most_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path is taken: most windows are judged in runs, not by steps."""
    windows = _windows(1)
    steps = 0
    step = Engine._step

    def counted(self: Engine, *args: Any) -> Any:
        nonlocal steps
        steps += 1
        return step(self, *args)

    monkeypatch.setattr(Engine, "_step", counted)
    _run(windows, [60] * (DAYS * 24))
    judged = DAYS * 1440 * len(windows)
    assert steps < judged / 4


def test_quiet_windows_judge_errors_on_the_ratio_learned_so_far(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A window whose errors only the ratio learned within the loop makes a finding:
    10% of calls failed for three days, none since midnight (the normal ratio falls to
    about 1.5% by 00:45, today's own ratio not known yet), then 30 of 300 at 00:45."""
    rng = np.random.default_rng(6)
    own: dict[int, WindowCounts] = {}
    for m in range(3 * 1440 + 120):
        calls = int(rng.poisson(300))
        ratio = 0.1 if m < 3 * 1440 else 0.0
        errors = 30 if m == 3 * 1440 + 45 else int(rng.binomial(calls, ratio))
        own[MONDAY + m * 60] = WindowCounts(calls, errors, 0)
    strides = [60] * (3 * 24 + 2)
    quiet = _run({"Drifting": own}, strides)
    monkeypatch.setattr(engine_module, "quiet_windows", lambda *args: 0)
    assert quiet == _run({"Drifting": own}, strides)
    found = [orjson.loads(line) for line in quiet if isinstance(line, str)]
    spike = MONDAY + 3 * DAY + 46 * 60
    assert [
        c["status"] for c in found if c["at"] == f"{datetime.fromtimestamp(spike, UTC):%FT%TZ}"
    ] == ["some_problems"]
