"""The notifier's steps, apart from Faust: forward a change to its subscribers, take
it into the recipient's state, flush what is due, deliver it and record the outcome.

Sent first, recorded second: a crash in between re-sends the same notification (same
Message-ID, same webhook id) after the restart; the reverse could lose it. What is
recorded as told is never sent again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from agents.links import LinkMaker
from agents.notify.base import Notifier
from agents.notify.metrics import NotifyMetrics
from agents.notify.reload import SubscriptionsFile
from agents.notify.retry import Backoff
from agents.notify.settings import NotifySettings
from detector.errors import NotificationError
from detector.notify import grouping
from detector.notify.grouping import Notification, RecipientState
from detector.notify.render import render
from detector.notify.subscriptions import ALERTMANAGER_PREFIX
from detector.status import StatusChange
from tables.writes import put

log = logging.getLogger(__name__)


@dataclass
class Notify:
    settings: NotifySettings
    subscriptions: SubscriptionsFile
    metrics: NotifyMetrics
    backoff: Backoff
    email: Notifier
    webhook: Notifier
    alertmanager: Notifier
    topic: Any
    table: Any
    # Waits until the table's changelog writes are on the broker (the producer's flush).
    flush: Callable[[], Awaitable[None]]
    links: LinkMaker
    # Whether the table is restored from its changelog: before that, a recipient's
    # state may lack the later record that says a notification was already sent.
    restored: Callable[[], bool]

    def notifier(self, recipient: str) -> Notifier:
        if recipient.startswith(ALERTMANAGER_PREFIX):
            return self.alertmanager
        return self.webhook if recipient.startswith(("http://", "https://")) else self.email


async def forward(notify: Notify, raw: bytes) -> None:
    try:
        change = StatusChange.model_validate_json(raw)
    except ValueError as exc:
        log.error("notify: skipping a status change that is not valid: %s", exc)
        return
    subs = notify.subscriptions.current
    for subscriber in subs.for_change(change.operation, change.integration):
        await notify.topic.send(key=subscriber.address.encode(), value=raw)


def take(notify: Notify, recipient: str, partition: int, raw: bytes, now: float) -> None:
    state = _state(notify, recipient) or RecipientState(partition)
    grouping.add(state, StatusChange.model_validate_json(raw), now)
    put(notify.table, state.partition, recipient, state.to_dict())


def _state(notify: Notify, recipient: str) -> RecipientState | None:
    raw = notify.table.data.get(recipient)
    return RecipientState.from_dict(raw) if raw is not None else None


async def flush_all(notify: Notify, now: float) -> None:
    """Send every recipient's due notification, concurrently: one slow or failing
    recipient does not hold up the others. Nothing while the table is being restored:
    half-restored state would send again what was told, and its writes would race the
    records still being read back."""
    if not notify.restored():
        return
    due: list[Notification] = []
    subs = notify.subscriptions.current
    for recipient in list(notify.table.data):
        state, subscriber = _state(notify, recipient), subs.by_address(recipient)
        if state is None or subscriber is None:
            continue
        before = state.to_dict()
        note = grouping.due(state, subscriber, subs, now)
        if state.to_dict() != before:  # ``due`` drops the changes undone within the wait.
            put(notify.table, state.partition, recipient, state.to_dict())
        if note is not None:
            due.append(note)
    await asyncio.gather(*(deliver(notify, note, now) for note in due))


async def deliver(notify: Notify, note: Notification, now: float) -> None:
    """Send, then record the outcome at ``now`` (the flush's clock; the latency metric
    alone reads the wall clock, as the change's ``detected_at`` did)."""
    notifier = notify.notifier(note.recipient)
    error: NotificationError | None = None
    links_ = _links(notify, note, now)
    try:
        await notifier.send(note, render(note, links_), links_)
    except NotificationError as exc:
        error = exc
    # The state is read again after the await: the group agent may have changed it.
    state = _state(notify, note.recipient)
    if state is None:
        return
    if error is None:
        grouping.sent(state, note, now)
        _count_sent(notify, notifier.channel, note, time.time())
    else:
        _failed(notify, notifier.channel, state, note, error, now)
    put(notify.table, state.partition, note.recipient, state.to_dict())
    # Recorded now rather than at the next commit: this await is all that stands
    # between a sent mail and the record that stops it from being sent again.
    await notify.flush()


def _failed(
    notify: Notify,
    channel: str,
    state: RecipientState,
    note: Notification,
    error: NotificationError,
    now: float,
) -> None:
    retry_in = notify.backoff.delay(state.attempts) if error.retryable else None
    grouping.failed(state, note, now, retry_in)
    if retry_in is not None:
        notify.metrics.retried.labels(channel, error.reason).inc()
        log.warning("notify %s: %s; retrying in %.0f s", _who(note), error, retry_in)
    else:
        notify.metrics.failed.labels(channel, error.reason).inc()
        log.error("notify %s: %s; given up on this notification", _who(note), error)


def _count_sent(notify: Notify, channel: str, note: Notification, sent_at: float) -> None:
    log.info("notify %s: sent %s (%s)", _who(note), note.key, ", ".join(note.change_ids))
    notify.metrics.sent.labels(channel).inc()
    for change in note.changes:
        started = (change.detected_at or change.at).timestamp()
        notify.metrics.latency.labels(channel).observe(max(0.0, sent_at - started))


def _who(note: Notification) -> str:
    """A recipient for logs: webhook URLs often carry a token, so only their host."""
    if note.recipient.startswith("mailto:"):
        return note.recipient
    kind = "alertmanager" if note.recipient.startswith(ALERTMANAGER_PREFIX) else "webhook"
    return f"{note.recipient.split('/')[2]} ({kind})"


def _links(notify: Notify, note: Notification, now: float) -> dict[str, str]:
    return {
        c.operation: notify.links.url(c.operation, c.at.timestamp(), now)
        for c in (*note.changes, *note.reminders)
    }
