"""When a recipient is told what: Alertmanager-style grouping, pure and table-driven.

Changes for one recipient that arrive within ``group_wait`` go out together; a change
that is undone within the wait (ok -> no_calls -> ok) sends nothing; a problem still
unresolved after ``repeat_interval`` is told again; nothing goes out in a mute window
(it waits for the window to end). A change id already seen, or a change older than
what the recipient was told, is ignored, so the at-least-once status stream can neither
mail twice nor bring back a problem that was already undone. ``now`` is a parameter.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from detector.notify.subscriptions import Subscriber, Subscriptions
from detector.status import PROBLEMS, Status, StatusChange

SEEN_KEPT = 500


@dataclass(slots=True)
class RecipientState:
    partition: int = 0
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)  # op -> {base, change}
    group_since: float | None = None
    told: dict[str, dict[str, Any]] = field(default_factory=dict)  # op -> {status, at, change}
    seen: list[str] = field(default_factory=list)  # recent change ids taken
    attempts: int = 0
    retry_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "p": self.partition,
            "pending": self.pending,
            "since": self.group_since,
            "told": self.told,
            "seen": self.seen,
            "attempts": self.attempts,
            "retry_at": self.retry_at,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RecipientState:
        return cls(
            raw["p"],
            raw["pending"],
            raw["since"],
            raw["told"],
            raw["seen"],
            raw["attempts"],
            raw["retry_at"],
        )


@dataclass(frozen=True, slots=True)
class Notification:
    key: str  # Stable for the same content: the mail's Message-ID, the webhook's id.
    recipient: str
    changes: tuple[StatusChange, ...]
    reminders: tuple[StatusChange, ...]
    repeat_interval: int  # Seconds until a standing problem is told again.

    @property
    def change_ids(self) -> list[str]:
        return [c.id for c in self.changes]


def add(state: RecipientState, change: StatusChange, now: float) -> None:
    """Queue a change for the recipient (a repeated id or an out-of-date change is ignored)."""
    told = state.told.get(change.operation)
    if change.id in state.seen or (told and change.at < _at(told["change"])):
        return
    state.seen = [*state.seen, change.id][-SEEN_KEPT:]
    pending = state.pending.get(change.operation)
    if pending is None:
        base = told["status"] if told else (change.previous.value if change.previous else None)
        state.pending[change.operation] = {"base": base, "change": _dump(change)}
    elif change.at >= _at(pending["change"]):
        pending["change"] = _dump(change)
    if state.group_since is None:
        state.group_since = now


def due(
    state: RecipientState, subscriber: Subscriber, subs: Subscriptions, now: float
) -> Notification | None:
    """What to send now, if anything. Drops pending changes that need no mail."""
    if _muted(subscriber, subs, now) or (state.retry_at is not None and now < state.retry_at):
        return None
    changes: list[StatusChange] = []
    if state.group_since is not None and now >= state.group_since + subs.group_wait_of(subscriber):
        for operation, item in list(state.pending.items()):
            change = StatusChange.model_validate(item["change"])
            if change.status.value == item["base"] or not _relevant(state, subscriber, change):
                del state.pending[operation]  # Undone within the wait, or not wanted.
                told = state.told.get(operation)
                if told is not None:  # Not told, but no longer to be reminded of either.
                    told.update(status=change.status.value, change=_dump(change))
            else:
                changes.append(change)
        if not state.pending:
            state.group_since = None
    repeat = subs.repeat_interval_of(subscriber)
    reminders = [
        StatusChange.model_validate(told["change"])
        for op, told in sorted(state.told.items())
        if Status(told["status"]) in subscriber.statuses
        and op not in state.pending
        and now - told["at"] >= repeat
    ]
    if not changes and not reminders:
        return None
    return Notification(
        _key(subscriber.address, changes, reminders, state),
        subscriber.address,
        tuple(changes),
        tuple(reminders),
        repeat,
    )


def sent(state: RecipientState, notification: Notification, now: float) -> None:
    """Record a delivered notification: what was told, and when."""
    for change in (*notification.changes, *notification.reminders):
        state.told[change.operation] = {
            "status": change.status.value,
            "at": now,
            "change": _dump(change),
        }
        pending = state.pending.get(change.operation)
        if pending is not None and pending["change"]["id"] == change.id:
            del state.pending[change.operation]
    state.attempts, state.retry_at = 0, None
    # What is still pending arrived while this was being sent: it gets its own wait.
    state.group_since = now if state.pending else None


def failed(
    state: RecipientState, notification: Notification, now: float, retry_in: float | None
) -> None:
    """A failed send: try again in ``retry_in`` seconds, or give up (None)."""
    if retry_in is not None:
        state.attempts += 1
        state.retry_at = now + retry_in
        return
    for change in notification.changes:
        state.pending.pop(change.operation, None)
    for change in notification.reminders:
        state.told[change.operation]["at"] = now  # Do not retry a reminder in a loop.
    state.attempts, state.retry_at = 0, None
    if not state.pending:
        state.group_since = None


def _relevant(state: RecipientState, subscriber: Subscriber, change: StatusChange) -> bool:
    """A status the subscriber asked for, or any move away from a problem they were told
    about: otherwise a recipient of only many_problems, told of one, would never hear
    that it eased to some_problems, and would be reminded of a problem that is gone."""
    if change.status in subscriber.statuses:
        return True
    told = state.told.get(change.operation)
    if told is None or Status(told["status"]) not in PROBLEMS:
        return False
    return change.status is not Status.OK or subscriber.recovery


def _muted(subscriber: Subscriber, subs: Subscriptions, now: float) -> bool:
    return subs.mute_window(subscriber, now) is not None


def _key(
    recipient: str,
    changes: list[StatusChange],
    reminders: list[StatusChange],
    state: RecipientState,
) -> str:
    parts = [recipient, *(c.id for c in changes)]
    parts += [f"{c.id}@{state.told[c.operation]['at']}" for c in reminders]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def _at(dumped: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(dumped["at"])


def _dump(change: StatusChange) -> dict[str, Any]:
    return change.model_dump(mode="json")
