"""Values restored from a changelog are used only whole and sound: anything out of type
or range raises ValueError at the decode boundary, and the shell quarantines it."""

from __future__ import annotations

import copy
import logging
import math
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry, Counter

from agents.quarantine import Quarantine
from detector.state import OperationState
from detector.windows import OperationWindows, WindowCounts
from tables import chains as chains_table
from tests.unit.detection_helpers import poisson, run


def _stored(value: Any) -> Any:
    """As a changelog gives it back: through JSON."""
    return orjson.loads(orjson.dumps(value))


GOOD_WINDOWS = {"p": 1, "i": "web", "t": 120.5, "w": {"60": [5, 2, 1, {"E1": 2}]}, "a": {"0": 17}}


def test_sound_windows_round_trip() -> None:
    windows = OperationWindows.from_value(_stored(GOOD_WINDOWS))
    assert windows.windows == {60: WindowCounts(5, 2, 1, {"E1": 2})}
    assert _stored(windows.to_value()) == GOOD_WINDOWS


@pytest.mark.parametrize(
    ("path", "bad", "mentions"),
    [
        (("w", "60", 0), -5, "window calls"),
        (("w", "60", 0), 10**19, "window calls"),
        (("w", "60", 1), 1.5, "window errors"),
        (("w", "60", 2), "3", "window retries"),
        (("w", "60", 0), True, "window calls"),
        (("w", "60", 3), {"E1": -1}, "error codes"),
        (("w", "60", 3), {f"E{i}": 1 for i in range(50)}, "error codes"),
        (("w", "60"), [1, 2], "window"),
        (("w", "60"), None, "window"),
        (("w",), [], "windows"),
        (("a", "0"), -1, "applied offset"),
        (("a",), [], "applied offsets"),
        (("p",), -1, "partition"),
        (("p",), "0", "partition"),
        (("t",), "yesterday", "last call"),
        (("i",), 7, "integration"),
    ],
)
def test_unsound_windows_are_refused_naming_the_field(
    path: tuple[str | int, ...], bad: object, mentions: str
) -> None:
    value = copy.deepcopy(GOOD_WINDOWS)
    target: Any = value
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = bad
    with pytest.raises(ValueError, match=mentions):
        OperationWindows.from_value(value)


def test_a_window_key_that_is_not_a_boundary_is_refused() -> None:
    with pytest.raises(ValueError, match="sixty"):
        OperationWindows.from_value({**GOOD_WINDOWS, "w": {"sixty": [1, 0, 0, {}]}})


@pytest.fixture(scope="module")
def state_record() -> dict[str, Any]:
    state, _ = run(poisson(lambda _: 5.0, 0.05), 1)
    assert state is not None
    return dict(_stored(state.to_dict()))


def test_a_sound_state_round_trips(state_record: dict[str, Any]) -> None:
    assert _stored(OperationState.from_dict(state_record).to_dict()) == state_record


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("total_calls", -1),
        ("total_calls", 2**70),
        ("last_boundary", "soon"),
        ("last_boundary", 0),  # Before first_boundary.
        ("recent_calls", [1, 2, -3]),
        ("recent_calls", "many"),
        ("recent_errors", [0]),  # Not as long as recent_calls.
        ("recent_expected", None),
        ("silent_expected", -1.0),
        ("hour_sums", [0.0, 0.0]),
        ("five_sums", [1, None]),
        ("status", "exploded"),
        ("recent_codes", [[60, {"E1": -1}]]),
        ("observed", [1]),
        ("reason", 42),
        ("unknown_field", 1),
    ],
)
def test_unsound_states_are_refused(state_record: dict[str, Any], field: str, bad: object) -> None:
    record = copy.deepcopy(state_record)
    record[field] = bad
    with pytest.raises((ValueError, TypeError)):
        OperationState.from_dict(record)


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("hourly", [[0.0] * 24]),
        ("hourly", [[0.0] * 24, [math.inf] + [0.0] * 23]),
        ("seen", [[0] * 24, [-1] * 24]),
        ("dispersion", 0.0),
        ("error_calls", -5.0),
        ("hour_tainted", "yes"),
        ("error_clumps", [1.0, -1.0]),
        ("error_clumps", [1.0]),
        ("clump_pool", math.nan),
    ],
)
def test_unsound_baselines_are_refused(
    state_record: dict[str, Any], field: str, bad: object
) -> None:
    record = copy.deepcopy(state_record)
    record["baseline"][field] = bad
    with pytest.raises(ValueError, match=field):
        OperationState.from_dict(record)


def test_quarantine_skips_logs_once_and_counts_each_bad_record(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = CollectorRegistry()
    quarantine = Quarantine(Counter("q", "quarantined", ("table",), registry=registry))
    bad = {"p": 0, "w": {"60": [-5, 0, 0, {}]}}
    with caplog.at_level(logging.ERROR):
        for _ in range(3):
            assert quarantine.decode("window-counts", "A", bad, OperationWindows.from_value) is None
        assert quarantine.decode("window-counts", "B", None, OperationWindows.from_value) is None
    good = quarantine.decode("window-counts", "C", GOOD_WINDOWS, OperationWindows.from_value)
    assert good is not None
    assert registry.get_sample_value("q_total", {"table": "window-counts"}) == 2
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert "'A'" in lines[0]
    assert "window calls" in lines[0]


def test_a_fold_chain_round_trips_and_refuses_what_is_not_one() -> None:
    chain = {0: (41, 1, 2), 5: (7, 1, 1)}
    assert chains_table.decode(_stored(chains_table.encode(chain))) == chain
    for bad in ({"0": 41}, [[0, 41, 1]], [[0, -1, 1, 1]], [[0, "41", 1, 1]]):
        with pytest.raises(ValueError, match="fold chain"):
            chains_table.decode(bad)
