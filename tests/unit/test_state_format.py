"""The stored operation state: readable field names under a format version, and states
written by earlier versions (the changelogs of running installations) still load."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from detector.engine import Engine
from detector.opconfig import DetectionConfig
from detector.state import VERSION, OperationState
from tests.unit.detection_helpers import DAY, MONDAY, hour_of, poisson, run

V1 = orjson.loads((Path(__file__).parent / "data" / "operation-state-v1.json").read_bytes())
V1_NAMES = {
    "rc": "recent_calls",
    "sf": "silent_effective",
    "qs": "quarter_sums",
    "lc": "last_call_boundary",
}


def test_stored_keys_are_the_field_names() -> None:
    state, _ = run(poisson(lambda ts: 3.0, 0.01), 0.2)
    assert state is not None
    stored = orjson.loads(orjson.dumps(state.to_dict()))
    assert stored["version"] == VERSION
    assert {"recent_calls", "silent_effective", "quarter_sums", "last_call_boundary"} <= set(stored)
    assert {"error_calls", "dispersion", "hour_calls"} <= set(stored["baseline"])
    assert OperationState.from_dict(stored) == state


def test_a_version_1_state_loads_with_every_value() -> None:
    state = OperationState.from_dict(V1)
    for old, new in V1_NAMES.items():
        assert getattr(state, new) == V1[old]
    assert state.baseline.error_calls == V1["baseline"]["ec"]
    assert state.baseline.hourly == V1["baseline"]["hourly"]
    assert state.last_boundary == V1["last"]
    # Stored again, it is in today's format and round-trips.
    assert OperationState.from_dict(orjson.loads(orjson.dumps(state.to_dict()))) == state


def test_a_migrated_state_keeps_judging() -> None:
    """The engine continues from a version-1 state as from today's form of it."""
    traffic = poisson(lambda ts: 4.0 if 8 <= hour_of(ts) < 20 else 0.5, 0.02)
    start = MONDAY + 3 * DAY
    _, from_v1 = run(traffic, 1, start=start, state=OperationState.from_dict(V1))
    today = OperationState.from_dict(OperationState.from_dict(V1).to_dict())
    _, from_v2 = run(traffic, 1, start=start, state=today)
    assert [c.id for c in from_v1] == [c.id for c in from_v2]
    engine = Engine(DetectionConfig())
    until = V1["last"] + 3600
    after, _ = engine.advance(OperationState.from_dict(V1), "Op", "test", {}, until)
    assert after is not None
    assert after.last_boundary == until


@pytest.mark.parametrize(
    "raw",
    [
        {**V1, "v": 99},
        {
            "version": VERSION,
            "integration": None,
            "first_boundary": 0,
            "last_boundary": 0,
            "baseline": {},
            "status": "ok",
            "mystery": 1,
        },
        {
            "version": VERSION,
            "first_boundary": 0,
            "last_boundary": 0,
            "baseline": {"wat": 1},
            "status": "ok",
            "integration": None,
        },
    ],
)
def test_unknown_versions_and_fields_are_refused(raw: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="unknown"):
        OperationState.from_dict(raw)
