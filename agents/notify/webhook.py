"""The same notifications as JSON POSTs, for chat tools and anything else with a URL.
Retry rules as for mail: network trouble, 408, 429 and 5xx are retryable, other 4xx not."""

from __future__ import annotations

from typing import Any

import aiohttp

from detector.errors import NotificationError
from detector.notify.grouping import Notification
from detector.notify.render import Mail

RETRYABLE_STATUS = frozenset({408, 425, 429})


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
        headers = {"Idempotency-Key": notification.key}
        try:
            async with (
                aiohttp.ClientSession(timeout=self.timeout) as session,
                session.post(notification.recipient, json=body, headers=headers) as response,
            ):
                status = response.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            reason = "timeout" if isinstance(exc, TimeoutError) else "refused"
            raise NotificationError(
                reason, f"{type(exc).__name__}: {exc}", retryable=True
            ) from None
        if status >= 300:
            retryable = status >= 500 or status in RETRYABLE_STATUS
            raise NotificationError("http", f"HTTP {status}", retryable=retryable)
