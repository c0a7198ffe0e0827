"""The same notifications as JSON POSTs, for chat tools and anything else with a URL
(retry rules in ``agents.notify.http``)."""

from __future__ import annotations

from typing import Any

import aiohttp

from agents.notify.http import post_json
from detector.notify.grouping import Notification
from detector.notify.render import Mail


def payload(notification: Notification, mail: Mail, links: dict[str, str]) -> dict[str, Any]:
    """The JSON body: the mail's words plus the status changes themselves."""

    def dump(kind: str, changes: Any) -> list[dict[str, Any]]:
        return [
            {"kind": kind, "link": links.get(c.operation), **c.model_dump(mode="json")}
            for c in changes
        ]

    return {
        "id": notification.key,
        "subject": mail.subject,
        "text": mail.text,
        "changes": dump("change", notification.changes) + dump("reminder", notification.reminders),
    }


class WebhookNotifier:
    channel = "webhook"

    def __init__(self, timeout: float) -> None:
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def send(self, notification: Notification, mail: Mail, links: dict[str, str]) -> None:
        body = payload(notification, mail, links)
        await post_json(
            notification.recipient, body, self.timeout, {"Idempotency-Key": notification.key}
        )
