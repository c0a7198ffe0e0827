"""Configuration files the worker re-reads while running (subscriptions, users): read at
start, where a mistake stops the worker, and again whenever their mtime changes, where a
broken new version is logged once and the last good one kept."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Generic, TypeVar

from detector.errors import ConfigError

log = logging.getLogger(__name__)
T = TypeVar("T")


class WatchedFile(ABC, Generic[T]):
    what = "configuration"

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.mtime: float | None = None
        self.current = self._load()

    @abstractmethod
    def parse(self) -> T:
        """The file's content (the defaults without a file); ``ConfigError`` if broken."""

    def _load(self) -> T:
        if self.path is not None:
            self.mtime = self.path.stat().st_mtime if self.path.exists() else None
        return self.parse()

    def check(self) -> bool:
        """Re-read the file if it changed; True if a new version is in force."""
        if self.path is None:
            return False
        try:
            mtime: float | None = self.path.stat().st_mtime
        except FileNotFoundError:
            mtime = None
        except OSError as exc:
            log.error("%s file %s: %s; keeping the last good one", self.what, self.path, exc)
            return False
        if mtime == self.mtime:
            return False
        try:
            self.current = self._load()
        except ConfigError as exc:
            self.mtime = mtime  # Report a broken version once, not on every check.
            log.error("%s not reloaded, keeping the last good ones:\n%s", self.what, exc)
            return False
        log.info("%s reloaded from %s", self.what, self.path)
        return True
