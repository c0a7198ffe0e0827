"""The seeds' "what to do" guidance next to each status."""

from __future__ import annotations

import pytest

from detector import guidance as g
from detector.status import Status


@pytest.mark.parametrize(
    ("status", "observed", "reason", "expected"),
    [
        (Status.OK, {}, "", g.NORMAL),
        (Status.LEARNING, {}, "", g.LEARNING),
        (Status.NO_CALLS, {"calls": 0}, "0 calls in the last 30 min", g.NO_CALLS),
        (Status.SOME_PROBLEMS, {"stuck": 4}, "4 events stuck in processing", g.STUCK),
        (Status.MANY_PROBLEMS, {"errors": 9, "retried_out": 9}, "9 events retrying", g.RETRIES),
        (
            Status.MANY_PROBLEMS,
            {"errors": 48, "calls": 51},
            "94% of 51 calls failed",
            g.ALL_FAILING,
        ),
        (Status.SOME_PROBLEMS, {"errors": 6, "calls": 60}, "10% of 60 calls failed", g.SPIKE),
        (Status.SOME_PROBLEMS, {"calls": 900, "volume": "flood"}, "900 calls", g.SPIKE),
    ],
)
def test_each_situation_gets_its_advice(
    status: Status, observed: dict[str, object], reason: str, expected: str
) -> None:
    assert g.guidance(status, observed, reason) == expected


def test_repeated_errors_and_daily_patterns_add_contact_us() -> None:
    reason = "10% of 60 calls failed; 5 failures in a row with the same error 401"
    assert g.guidance(Status.SOME_PROBLEMS, {"errors": 6}, reason) == f"{g.SPIKE} {g.REPEATED}"
    daily = "94% of 51 calls failed; failed around 03:00 on 3 of the last 3 days"
    advice = g.guidance(Status.MANY_PROBLEMS, {"errors": 48}, daily)
    assert advice == f"{g.ALL_FAILING} {g.PATTERN}"


def test_the_dashboard_row_carries_the_guidance() -> None:
    from detector.state import OperationState
    from detector.summary import OperationSummary, refresh

    state = OperationState("crm", 0, 60, status=Status.SOME_PROBLEMS, reason="3 events stuck")
    state.observed = {"stuck": 3}
    row = refresh(OperationSummary(operation="Crm.Sync"), state, None)
    assert row.guidance == g.STUCK
