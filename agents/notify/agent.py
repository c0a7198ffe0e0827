"""The Faust wiring of the notifier: route -> group -> flush.

``route`` reads status changes and forwards each to the internal topic once per
subscriber, keyed by recipient; ``group`` feeds them into the recipient's state in a
changelogged table; a timer sends what is due and records it. Sent first, recorded
second: a crash in between re-sends the same notification (same Message-ID) after the
restart; the reverse could lose it. Anything already recorded is never sent again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry

from agents.notify.base import Notifier
from agents.notify.email import EmailNotifier
from agents.notify.metrics import NotifyMetrics
from agents.notify.reload import SubscriptionsFile
from agents.notify.retry import Backoff
from agents.notify.settings import NotifySettings
from agents.notify.webhook import WebhookNotifier
from detector import links
from detector.errors import NotificationError
from detector.notify import grouping
from detector.notify.grouping import Notification, RecipientState
from detector.notify.render import render
from detector.status import StatusChange
from tables import notifications
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
    topic: Any
    table: Any

    def notifier(self, recipient: str) -> Notifier:
        return self.webhook if recipient.startswith(("http://", "https://")) else self.email


def register(
    app: Any,
    status_topic: Any,
    settings: NotifySettings,
    registry: CollectorRegistry,
    partitions: int,
) -> Notify:
    """Add the notifier's topic, table, agents and timers to ``app``; fails at start on
    a broken subscriptions file (``ConfigError`` naming the file, entry and field)."""
    notify = Notify(
        settings=settings,
        subscriptions=SubscriptionsFile(settings.subscriptions, settings.webhook_url),
        metrics=NotifyMetrics(registry),
        backoff=Backoff(settings.retry_initial, settings.retry_max, settings.retry_give_up_after),
        email=EmailNotifier(settings),
        webhook=WebhookNotifier(settings.webhook_timeout),
        topic=app.topic(f"{app.conf.id}-notify", partitions=partitions, internal=True),
        table=notifications.declare(app, partitions),
    )

    @app.agent(status_topic, name="notify-route")
    async def route(stream: Any) -> None:
        async for value in stream:
            await forward(notify, value)

    @app.agent(notify.topic, name="notify-group")
    async def group(stream: Any) -> None:
        async for event in stream.events():
            take(notify, event.key.decode(), event.message.partition, event.value, time.time())

    @app.timer(settings.flush_interval, name="notify-flush")
    async def flush() -> None:
        await flush_all(notify, time.time())

    @app.timer(settings.reload_interval, name="notify-reload")
    async def reload() -> None:
        notify.subscriptions.check()

    return notify


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
    recipient does not hold up the others."""
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
    await asyncio.gather(*(deliver(notify, note) for note in due))


async def deliver(notify: Notify, note: Notification) -> None:
    notifier = notify.notifier(note.recipient)
    sent_at = time.time()
    error: NotificationError | None = None
    links_ = _links(notify, note, sent_at)
    try:
        await notifier.send(note, render(note, links_), links_)
        sent_at = time.time()
    except NotificationError as exc:
        error = exc
    # The state is read again after the await: the group agent may have changed it.
    state = _state(notify, note.recipient)
    if state is None:
        return
    if error is None:
        grouping.sent(state, note, sent_at)
        _count_sent(notify, notifier.channel, note, sent_at)
    else:
        _failed(notify, notifier.channel, state, note, error, sent_at)
    put(notify.table, state.partition, note.recipient, state.to_dict())


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
    notify.metrics.sent.labels(channel).inc()
    for change in note.changes:
        started = (change.detected_at or change.at).timestamp()
        notify.metrics.latency.labels(channel).observe(max(0.0, sent_at - started))


def _who(note: Notification) -> str:
    """A recipient for logs: webhook URLs often carry a token, so only their host."""
    if note.recipient.startswith("mailto:"):
        return note.recipient
    return note.recipient.split("/")[2] + " (webhook)"


def _links(notify: Notify, note: Notification, now: float) -> dict[str, str]:
    s = notify.settings
    secret = s.link_secret.get_secret_value().encode()
    if not secret:
        return {}
    return {
        c.operation: links.url(
            s.link_base_url,
            secret,
            links.incident_link(
                secret,
                c.operation,
                c.at.timestamp(),
                now,
                s.link_ttl_seconds,
                s.link_before_seconds,
            ),
        )
        for c in (*note.changes, *note.reminders)
    }
