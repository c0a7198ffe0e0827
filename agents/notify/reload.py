"""The subscriptions file, read at start (a mistake stops the worker) and re-read when
its mtime changes (a broken new version is logged and the old one kept)."""

from __future__ import annotations

import logging
from pathlib import Path

from agents.files import read_yaml
from detector.errors import ConfigError
from detector.notify.subscriptions import Subscriber, Subscriptions, parse_subscriptions

log = logging.getLogger(__name__)


class SubscriptionsFile:
    def __init__(self, path: Path | None, webhook_url: str | None = None) -> None:
        self.path = path
        self.webhook_url = webhook_url
        self.mtime: float | None = None
        self.current = self._load()

    def _load(self) -> Subscriptions:
        subs = Subscriptions()
        if self.path is not None:
            self.mtime = self.path.stat().st_mtime if self.path.exists() else None
            subs = parse_subscriptions(read_yaml(self.path, "subscriptions"), str(self.path))
        if self.webhook_url:
            everything = Subscriber(webhook=self.webhook_url, operations=("*",))
            subs = subs.model_copy(update={"subscribers": (*subs.subscribers, everything)})
        return subs

    def check(self) -> bool:
        """Re-read the file if it changed; True if new subscriptions are in force."""
        if self.path is None:
            return False
        try:
            mtime = self.path.stat().st_mtime
        except OSError as exc:
            log.error("subscriptions file %s: %s; keeping the last good one", self.path, exc)
            return False
        if mtime == self.mtime:
            return False
        try:
            self.current = self._load()
        except ConfigError as exc:
            self.mtime = mtime  # Report a broken version once, not on every check.
            log.error("subscriptions not reloaded, keeping the last good ones:\n%s", exc)
            return False
        log.info("subscriptions reloaded from %s", self.path)
        return True
