"""The subscriptions file, re-read when it changes (see ``agents.watched``)."""

from __future__ import annotations

from pathlib import Path

from agents.files import read_yaml
from agents.watched import WatchedFile
from detector.notify.subscriptions import Subscriber, Subscriptions, parse_subscriptions


class SubscriptionsFile(WatchedFile[Subscriptions]):
    what = "subscriptions"

    def __init__(
        self,
        path: Path | None,
        webhook_url: str | None = None,
        alertmanager_url: str | None = None,
    ) -> None:
        self.webhook_url = webhook_url
        self.alertmanager_url = alertmanager_url
        super().__init__(path)

    def parse(self) -> Subscriptions:
        subs = Subscriptions()
        if self.path is not None:
            subs = parse_subscriptions(read_yaml(self.path, "subscriptions"), str(self.path))
        # The settings' catch-all subscribers, in addition to the file's.
        extra = (
            [Subscriber(webhook=self.webhook_url, operations=("*",))] if self.webhook_url else []
        )
        if self.alertmanager_url:
            extra.append(Subscriber(alertmanager=self.alertmanager_url, operations=("*",)))
        if extra:
            subs = subs.model_copy(update={"subscribers": (*subs.subscribers, *extra)})
        return subs
