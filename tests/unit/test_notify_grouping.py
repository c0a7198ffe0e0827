"""Grouping, revert suppression, dedupe, repeats, mute windows and retries of one
recipient's notifications; ``now`` is always explicit."""

from __future__ import annotations

import orjson
import pytest

from detector.notify import grouping
from detector.notify.grouping import RecipientState
from detector.status import Status, StatusChange
from tests.unit.notify_helpers import T0, change, subscriptions

SUBS = subscriptions()
SUB = SUBS.subscribers[0]


def feed(state: RecipientState, *changes: StatusChange) -> None:
    for c in changes:
        grouping.add(state, c, c.at.timestamp())


def due(state: RecipientState, now: float) -> grouping.Notification | None:
    return grouping.due(state, SUB, SUBS, now)


def test_changes_within_the_wait_go_out_as_one() -> None:
    state = RecipientState()
    feed(state, change("A", at=T0), change("B", at=T0 + 5), change("C", at=T0 + 20))
    assert due(state, T0 + 29) is None
    sent = due(state, T0 + 30)
    assert sent is not None
    assert [c.operation for c in sent.changes] == ["A", "B", "C"]


@pytest.mark.parametrize(
    ("steps", "mailed"),
    [
        ([(Status.OK, Status.NO_CALLS), (Status.NO_CALLS, Status.OK)], None),
        ([(Status.OK, Status.NO_CALLS), (Status.NO_CALLS, Status.MANY_PROBLEMS)], "many_problems"),
        ([(Status.OK, Status.LEARNING)], None),
        ([(Status.OK, Status.SOME_PROBLEMS)], "some_problems"),
    ],
)
def test_only_what_is_still_news_after_the_wait_is_mailed(
    steps: list[tuple[Status, Status]], mailed: str | None
) -> None:
    state = RecipientState()
    for i, (previous, status) in enumerate(steps):
        feed(state, change(previous=previous, status=status, at=T0 + i))
    sent = due(state, T0 + 60)
    assert (sent.changes[-1].status.value if sent else None) == mailed


def test_duplicates_and_stale_redeliveries_send_nothing() -> None:
    state = RecipientState()
    bad = change(status=Status.MANY_PROBLEMS, at=T0)
    back = change(previous=Status.MANY_PROBLEMS, status=Status.OK, at=T0 + 10)
    feed(state, bad, back)
    assert due(state, T0 + 60) is None
    grouping.add(state, bad, T0 + 70)  # Redelivered after its revert was dropped.
    assert due(state, T0 + 200) is None


def test_a_sent_change_is_never_sent_again() -> None:
    state = RecipientState()
    bad = change(at=T0)
    feed(state, bad)
    sent = due(state, T0 + 30)
    assert sent is not None
    grouping.sent(state, sent, T0 + 31)
    grouping.add(state, bad, T0 + 40)
    assert due(state, T0 + 100) is None


def test_recovery_follows_a_told_problem_and_repeats_stop() -> None:
    state = RecipientState()
    feed(state, change(at=T0))
    first = due(state, T0 + 30)
    assert first is not None
    grouping.sent(state, first, T0 + 30)
    feed(state, change(previous=Status.MANY_PROBLEMS, status=Status.OK, at=T0 + 600))
    recovery = due(state, T0 + 630)
    assert recovery is not None
    assert [c.status for c in recovery.changes] == [Status.OK]
    grouping.sent(state, recovery, T0 + 630)
    assert due(state, T0 + 10 * 3600) is None


def test_without_recovery_mails_a_recovered_problem_is_not_repeated() -> None:
    subs = subscriptions(recovery=False)
    state = RecipientState()
    feed(state, change(at=T0))
    first = grouping.due(state, subs.subscribers[0], subs, T0 + 30)
    assert first is not None
    grouping.sent(state, first, T0 + 30)
    feed(state, change(previous=Status.MANY_PROBLEMS, status=Status.OK, at=T0 + 600))
    assert grouping.due(state, subs.subscribers[0], subs, T0 + 630) is None
    assert grouping.due(state, subs.subscribers[0], subs, T0 + 10 * 3600) is None
    # A new problem after the quiet recovery is mailed as a change again.
    feed(state, change(previous=Status.OK, status=Status.NO_CALLS, at=T0 + 11 * 3600))
    again = grouping.due(state, subs.subscribers[0], subs, T0 + 11 * 3600 + 30)
    assert again is not None
    assert [c.status for c in again.changes] == [Status.NO_CALLS]


def test_unresolved_problem_is_repeated_at_the_interval() -> None:
    state = RecipientState()
    feed(state, change(at=T0))
    first = due(state, T0 + 30)
    assert first is not None
    grouping.sent(state, first, T0 + 30)
    assert due(state, T0 + 30 + 4 * 3600 - 1) is None
    again = due(state, T0 + 30 + 4 * 3600)
    assert again is not None
    assert [c.operation for c in again.reminders] == ["Payments.Charge"]
    assert again.key != first.key


def test_unsubscribed_status_is_not_mailed_and_recovery_then_needs_no_mail() -> None:
    subs = subscriptions(statuses=["many_problems", "no_calls"])
    state = RecipientState()
    grouping.add(state, change(status=Status.SOME_PROBLEMS, at=T0), T0)
    assert grouping.due(state, subs.subscribers[0], subs, T0 + 60) is None
    back = change(previous=Status.SOME_PROBLEMS, status=Status.OK, at=T0 + 100)
    grouping.add(state, back, T0 + 100)
    assert grouping.due(state, subs.subscribers[0], subs, T0 + 200) is None


# T0 is Tuesday 22:13:20 UTC, i.e. 23:13:20 in Berlin (CET).
@pytest.mark.parametrize(
    ("mute", "zone", "offset", "muted"),
    [
        ("weekdays 22:00-07:00", "Europe/Berlin", 60, True),
        ("weekdays 22:00-07:00", "Europe/Berlin", 8 * 3600, False),
        ("weekdays 23:30-07:00", "Europe/Berlin", 60, False),
        ("weekends 00:00-24:00", "UTC", 60, False),
        ("daily 22:00-23:00", "UTC", 60, True),
    ],
)
def test_nothing_goes_out_in_a_mute_window(
    mute: str, zone: str, offset: float, muted: bool
) -> None:
    subs = subscriptions(mute=[mute])
    subs = subs.model_copy(update={"timezone": zone})
    state = RecipientState()
    grouping.add(state, change(at=T0), T0)
    sent = grouping.due(state, subs.subscribers[0], subs, T0 + offset)
    assert (sent is None) is muted


def test_retry_waits_and_permanent_failure_gives_up() -> None:
    state = RecipientState()
    feed(state, change(at=T0))
    sent = due(state, T0 + 30)
    assert sent is not None
    grouping.failed(state, sent, T0 + 30, retry_in=10)
    assert due(state, T0 + 39) is None
    retried = due(state, T0 + 40)
    assert retried is not None
    assert retried.key == sent.key
    grouping.failed(state, retried, T0 + 40, retry_in=None)
    assert due(state, T0 + 100) is None


def test_state_survives_a_round_trip_through_json() -> None:
    state = RecipientState(partition=3)
    feed(state, change("A", at=T0), change("B", at=T0 + 1))
    restored = RecipientState.from_dict(orjson.loads(orjson.dumps(state.to_dict())))
    assert restored == state
    assert due(restored, T0 + 31) == due(state, T0 + 31)


def test_a_change_arriving_while_sending_waits_its_own_group_wait() -> None:
    state = RecipientState()
    feed(state, change("A", at=T0))
    first = due(state, T0 + 30)
    assert first is not None
    grouping.add(state, change("B", at=T0 + 31), T0 + 31)  # During the send.
    grouping.sent(state, first, T0 + 32)
    assert due(state, T0 + 33) is None
    later = due(state, T0 + 62)
    assert later is not None
    assert [c.operation for c in later.changes] == ["B"]


def test_a_subscriber_time_zone_overrides_the_files() -> None:
    # T0 is 22:13 UTC: inside 22:00-23:00 in UTC, not in Tokyo (07:13 next day).
    subs = subscriptions(mute=["daily 22:00-23:00"], timezone="Asia/Tokyo")
    state = RecipientState()
    grouping.add(state, change(at=T0), T0)
    assert grouping.due(state, subs.subscribers[0], subs, T0 + 60) is not None


def test_a_told_problem_that_eases_is_told_then_not_repeated_then_recovers() -> None:
    subs = subscriptions(statuses=["many_problems", "no_calls"])
    sub = subs.subscribers[0]
    state = RecipientState()
    steps = [
        (Status.OK, Status.MANY_PROBLEMS, 0, ["many_problems"]),
        (Status.MANY_PROBLEMS, Status.SOME_PROBLEMS, 600, ["some_problems"]),
        (None, None, 6 * 3600, None),  # No reminder of an unsubscribed status.
        (Status.SOME_PROBLEMS, Status.OK, 7 * 3600, ["ok"]),
    ]
    for previous, status, offset, mailed in steps:
        if status is not None:
            grouping.add(
                state, change(previous=previous, status=status, at=T0 + offset), T0 + offset
            )
        note = grouping.due(state, sub, subs, T0 + offset + 30)
        assert ([c.status.value for c in note.changes] if note else None) == mailed
        if note is not None:
            grouping.sent(state, note, T0 + offset + 30)
