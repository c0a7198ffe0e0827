"""Status changes as Alertmanager alerts: the body posted to /api/v2/alerts, and an
Alertmanager subscriber's own waits (no group wait, a standing problem re-posted every
minute so its ``endsAt`` moves on)."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from detector.errors import ConfigError
from detector.notify import grouping
from detector.notify.alertmanager import LIFETIMES, alerts
from detector.notify.grouping import Notification, RecipientState
from detector.notify.subscriptions import ALERTMANAGER_REPEAT
from detector.status import PROBLEMS, Status
from tests.unit.notify_helpers import T0, change, subscriptions

AM = "alertmanager+http://am:9093"
NOW = T0 + 90


def ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def by_status(body: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    return {a["labels"]["status"]: a for a in body}  # type: ignore[index]


def test_a_problem_fires_with_labels_annotations_and_a_lifetime() -> None:
    bad = change(
        "Payments.Charge",
        observed={"calls": 50, "errors": 21},
        expected={"errors": 1},
        log_url="http://dash/old",
    )
    note = Notification("k", AM, (bad,), (), 60)
    body = by_status(alerts(note, {"Payments.Charge": "http://dash/log?sig=1"}, NOW))
    firing = body.pop("many_problems")
    assert firing["labels"] == {
        "alertname": "IntegrationOperationProblem",
        "operation": "Payments.Charge",
        "integration": "payments",
        "status": "many_problems",
        "severity": "critical",
    }
    assert firing["annotations"] == {
        "summary": "Payments.Charge: many problems",
        "reason": "42% of calls failed; about 1% expected",
        "observed_vs_expected": "observed calls 50, errors 21; expected errors 1",
        "log_url": "http://dash/log?sig=1",
    }
    assert firing["generatorURL"] == "http://dash/log?sig=1"
    assert ts(firing["startsAt"]) == T0  # type: ignore[arg-type]
    assert ts(firing["endsAt"]) == NOW + LIFETIMES * 60  # type: ignore[arg-type]
    # The other problem statuses of the operation are resolved now.
    assert set(body) == {"some_problems", "no_calls"}
    assert all(ts(a["endsAt"]) == NOW for a in body.values())  # type: ignore[arg-type]
    assert body["some_problems"]["labels"]["severity"] == "warning"  # type: ignore[index]


def test_recovery_resolves_every_problem_status_and_fires_nothing() -> None:
    note = Notification("k", AM, (change(previous=Status.NO_CALLS, status=Status.OK),), (), 60)
    body = alerts(note, {}, NOW)
    assert sorted(a["labels"]["status"] for a in body) == sorted(s.value for s in PROBLEMS)
    assert all(ts(a["endsAt"]) <= NOW for a in body)
    assert all("log_url" not in a["annotations"] and "generatorURL" not in a for a in body)


def test_a_reminder_posts_the_same_alert_with_a_later_end() -> None:
    bad = change(status=Status.SOME_PROBLEMS, integration=None)
    first = alerts(Notification("k1", AM, (bad,), (), 60), {}, NOW)
    again = alerts(Notification("k2", AM, (), (bad,), 60), {}, NOW + 60)
    (fired,) = [a for a in first if ts(a["endsAt"]) > NOW]
    (refreshed,) = again
    assert refreshed["labels"] == fired["labels"]
    assert "integration" not in refreshed["labels"]
    assert refreshed["startsAt"] == fired["startsAt"]
    assert ts(refreshed["endsAt"]) == ts(fired["endsAt"]) + 60


@given(
    at=st.floats(T0 - 86400, T0 + 86400),
    now=st.floats(T0 - 86400, T0 + 86400),
    status=st.sampled_from(list(Status)),
    repeat=st.integers(1, 86400),
)
def test_every_alert_starts_no_later_than_it_ends(
    at: float, now: float, status: Status, repeat: int
) -> None:
    """Alertmanager refuses the whole post if one alert ends before it starts (clocks
    differ between the judging worker and the notifying one)."""
    c = change(
        previous=Status.OK if status is not Status.OK else Status.NO_CALLS, status=status, at=at
    )
    for note in (Notification("k", AM, (c,), (), repeat), Notification("k", AM, (), (c,), repeat)):
        for alert in alerts(note, {}, now):
            assert ts(alert["startsAt"]) <= ts(alert["endsAt"])


def test_an_alertmanager_subscriber_sends_at_once_and_refreshes_every_minute() -> None:
    subs = subscriptions(email=None, alertmanager="http://am:9093")
    (sub,) = subs.subscribers
    assert sub.address == AM
    state = RecipientState()
    grouping.add(state, change(at=T0), T0)
    note = grouping.due(state, sub, subs, T0)  # No group wait.
    assert note is not None
    assert note.repeat_interval == ALERTMANAGER_REPEAT
    grouping.sent(state, note, T0)
    assert grouping.due(state, sub, subs, T0 + ALERTMANAGER_REPEAT - 1) is None
    reminder = grouping.due(state, sub, subs, T0 + ALERTMANAGER_REPEAT)
    assert reminder is not None
    assert [c.status for c in reminder.reminders] == [Status.MANY_PROBLEMS]


def test_a_subscriber_may_set_its_own_waits() -> None:
    subs = subscriptions(group_wait="5s", repeat_interval="2m")
    (sub,) = subs.subscribers
    assert (subs.group_wait_of(sub), subs.repeat_interval_of(sub)) == (5, 120)
    default = subscriptions()
    (plain,) = default.subscribers
    assert (default.group_wait_of(plain), default.repeat_interval_of(plain)) == (30, 4 * 3600)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"alertmanager": "http://am", "recovery": False}, "needs recovery"),
        ({"alertmanager": "am:9093"}, "subscribers[0].alertmanager"),
        ({"alertmanager": "http://am", "webhook": "http://x"}, "exactly one of"),
    ],
)
def test_alertmanager_subscriber_mistakes(entry: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        subscriptions(email=None, **entry)
