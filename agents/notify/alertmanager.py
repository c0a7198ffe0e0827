"""Status changes posted to Alertmanager's v2 API as alerts (the body is built by
``detector.notify.alertmanager``). A failed post is retried by the pipeline like any
notification: the recipient's state keeps it until Alertmanager takes it."""

from __future__ import annotations

import time

import aiohttp

from agents.notify.http import post_json
from detector.notify.alertmanager import alerts
from detector.notify.grouping import Notification
from detector.notify.render import Mail
from detector.notify.subscriptions import ALERTMANAGER_PREFIX


def alerts_url(recipient: str) -> str:
    return recipient.removeprefix(ALERTMANAGER_PREFIX).rstrip("/") + "/api/v2/alerts"


class AlertmanagerNotifier:
    channel = "alertmanager"

    def __init__(self, timeout: float) -> None:
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def send(self, notification: Notification, mail: Mail, links: dict[str, str]) -> None:
        # endsAt counts from the post, not from the flush: a retried post still lives
        # its full lifetimes.
        body = alerts(notification, links, time.time())
        if body:
            await post_json(alerts_url(notification.recipient), body, self.timeout)
