"""What to do about a status, in the words of the seeds' dashboard guide ("when to
contact us vs when it's normal"), for the person reading the dashboard: pure, from the
status and the evidence the detector gave for it."""

from __future__ import annotations

from typing import Any

from detector.status import Status

NORMAL = (
    "Normal, no action needed. A single failed event among successful ones, or "
    "'retrying' that turns 'delivered' within a few minutes, is handled by the system."
)
LEARNING = "Learning this integration's normal traffic; nothing to do yet."
NO_CALLS = (
    "No events are arriving. If nothing happened in the source system, that is normal; "
    "otherwise create a test event there and check that the webhook or connection is "
    "active. Contact us if it stays empty."
)
STUCK = (
    "Events are stuck in 'processing': our middleware may have an issue. Contact us; we "
    "have deeper monitoring on our side."
)
RETRIES = (
    "The destination keeps refusing events even after retries. Check the destination "
    "system's status page; contact us if it does not recover."
)
ALL_FAILING = (
    "Most events are failing: likely a credential or connectivity issue. Check whether "
    "someone changed API keys or revoked access, whether the destination changed its API "
    "address or version, and the destination's status page. Contact us if you cannot "
    "find the cause."
)
SPIKE = (
    "More failures than usual. Check whether they are ongoing or resolved; if they are "
    "ongoing, contact us."
)
REPEATED = "The same error keeps repeating: contact us with its message."
PATTERN = "Failures come back at the same time every day: contact us."


def guidance(status: Status, observed: dict[str, Any], reason: str = "") -> str:
    """Plain words next to the status: normal, or what to check and when to contact us."""
    if status is Status.OK:
        return NORMAL
    if status is Status.LEARNING:
        return LEARNING
    if status is Status.NO_CALLS:
        return NO_CALLS
    if observed.get("stuck"):
        advice = STUCK
    elif observed.get("retried_out"):
        advice = RETRIES
    elif status is Status.MANY_PROBLEMS and observed.get("errors"):
        advice = ALL_FAILING
    else:
        advice = SPIKE
    if "in a row with the same error" in reason and advice is SPIKE:
        advice = f"{advice} {REPEATED}"
    if "failed around" in reason:
        advice = f"{advice} {PATTERN}"
    return advice
