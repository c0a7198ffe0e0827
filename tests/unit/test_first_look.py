"""The quickstart's first look: the history `detector simulate` publishes first (eight
days, realistic, no incident) must not show silences or floods that are not there,
whatever day and minute it starts."""

from __future__ import annotations

import pytest

from detector.events import OperationCall
from detector.opconfig import DetectionConfig
from detector.replay import replay
from detector.simulate import simulated
from detector.status import Status
from tests.unit.detection_helpers import DAY, MONDAY

BACKFILL = 8 * DAY  # ``detector simulate --backfill-hours`` default: 192.


@pytest.mark.parametrize(("weekday", "seed"), [(1, 1), (2, 1), (3, 1), (0, 2)])
def test_the_backfilled_history_has_no_false_silence_or_flood(weekday: int, seed: int) -> None:
    """Before: a nightly export learned from one run was judged as steady traffic (on
    a night its run came 20 minutes later, `no_calls`, then its batch a flood), the
    history's first, partial hour (17:37 to 18:00) was learned as a whole hour (the
    next day's 17:00 a flood on the office sync and the subscribe form), and a
    three-day-old order form's campaign hour (7x) was a flood."""
    now = MONDAY + 7 * DAY + weekday * DAY + 17 * 3600 + 37 * 60
    first = now - BACKFILL
    calls = [
        OperationCall.model_validate(r)
        for r in simulated([], first, now, seed, realistic=True, origin=first)
    ]
    wrong = [
        f"{c.at:%a %H:%M} {c.operation} {c.status.value}: {c.reason}"
        for c in replay(calls, DetectionConfig())
        if c.status is Status.NO_CALLS or c.observed.get("volume") == "flood"
    ]
    assert wrong == []
