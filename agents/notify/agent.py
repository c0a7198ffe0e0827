"""The Faust wiring of the notifier: route -> group -> flush (see ``pipeline``).

``notify-route`` reads status changes and forwards each once per subscriber to the
internal topic, keyed by recipient; ``notify-group`` takes them into the recipient's
state in the changelogged ``notify-recipients`` table; the ``notify-flush`` timer sends
what is due and records it; ``notify-reload`` re-reads the subscriptions file.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry

from agents.links import LinkMaker
from agents.notify.alertmanager import AlertmanagerNotifier
from agents.notify.email import EmailNotifier
from agents.notify.metrics import NotifyMetrics
from agents.notify.pipeline import Notify, flush_all, forward, take
from agents.notify.reload import SubscriptionsFile
from agents.notify.retry import Backoff
from agents.notify.settings import NotifySettings
from agents.notify.webhook import WebhookNotifier
from agents.progress import recovered
from tables import notifications


def register(
    app: Any,
    status_topic: Any,
    settings: NotifySettings,
    registry: CollectorRegistry,
    partitions: int,
    links: LinkMaker,
) -> Notify:
    """Add the notifier's topic, table, agents and timers to ``app``; fails at start on
    a broken subscriptions file (``ConfigError`` naming the file, entry and field)."""
    notify = Notify(
        settings=settings,
        subscriptions=SubscriptionsFile(
            settings.subscriptions, settings.webhook_url, settings.alertmanager_url
        ),
        metrics=NotifyMetrics(registry),
        backoff=Backoff(settings.retry_initial, settings.retry_max, settings.retry_give_up_after),
        email=EmailNotifier(settings),
        webhook=WebhookNotifier(settings.webhook_timeout),
        alertmanager=AlertmanagerNotifier(settings.webhook_timeout),
        topic=app.topic(f"{app.conf.id}-notify", partitions=partitions, internal=True),
        table=notifications.declare(app, partitions),
        flush=app.producer.flush,
        links=links,
        restored=lambda: recovered(app),
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
