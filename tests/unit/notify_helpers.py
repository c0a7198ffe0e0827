"""Status changes and subscriptions for the notification tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from detector.notify.subscriptions import Subscriptions, parse_subscriptions
from detector.status import Status, StatusChange, change_id

T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC, a Tuesday.


def change(
    operation: str = "Payments.Charge",
    previous: Status | None = Status.OK,
    status: Status = Status.MANY_PROBLEMS,
    at: float = T0,
    **extra: Any,
) -> StatusChange:
    when = datetime.fromtimestamp(at, tz=UTC)
    return StatusChange(
        id=change_id(operation, when, previous, status),
        operation=operation,
        integration=extra.pop("integration", "payments"),
        previous=previous,
        status=status,
        at=when,
        reason=extra.pop("reason", "42% of calls failed; about 1% expected"),
        **extra,
    )


def subscriptions(**subscriber: Any) -> Subscriptions:
    entry = {"email": "ops@example.com", "operations": ["*"], **subscriber}
    return parse_subscriptions({"subscribers": [entry]}, "subs.yaml")
