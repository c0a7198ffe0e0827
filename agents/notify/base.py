"""What every channel implements: send one notification, or raise a ``NotificationError``
whose ``reason`` is a bounded metric label and ``retryable`` says whether to try again."""

from __future__ import annotations

from typing import Protocol

from detector.notify.grouping import Notification
from detector.notify.render import Mail

# Every reason a channel may give; metric labels stay within this set.
REASONS = frozenset(
    {"refused", "timeout", "disconnected", "temporary", "rejected", "auth", "http", "other"}
)


class Notifier(Protocol):
    channel: str

    async def send(self, notification: Notification, mail: Mail, links: dict[str, str]) -> None:
        """Deliver, or raise ``detector.errors.NotificationError``."""
