"""Who hears about which operation, in which statuses, and when not to disturb them.

The subscriptions file maps recipients (mail addresses or webhook URLs) to integrations
and operations by glob pattern. Parsing is pure: the shell reads the YAML, this module
validates it and answers two questions: who gets a change (``route``), and whether a
recipient is muted at a given moment (``muted``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from fnmatch import fnmatchcase
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from detector.errors import ConfigError
from detector.status import PROBLEMS, Status, StatusChange

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_URL = re.compile(r"^https?://\S+$")


class MuteWindow(BaseModel):
    """A recurring quiet time, e.g. weekdays 22:00-07:00 Europe/Berlin; the days are
    those on which the window starts, so a window may run past midnight."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    days: tuple[Weekday, ...] = WEEKDAYS
    start: time
    end: time
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use e.g. Europe/Berlin)") from None
        return value

    def covers(self, now: float) -> bool:
        local = datetime.fromtimestamp(now, tz=UTC).astimezone(ZoneInfo(self.timezone))
        clock, today = local.time(), WEEKDAYS[local.weekday()]
        if self.start <= self.end:
            return today in self.days and self.start <= clock < self.end
        yesterday = WEEKDAYS[(local - timedelta(days=1)).weekday()]
        return (today in self.days and clock >= self.start) or (
            yesterday in self.days and clock < self.end
        )


class Subscription(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = ""
    recipients: tuple[str, ...] = Field(min_length=1)
    integrations: tuple[str, ...] = ()
    operations: tuple[str, ...] = ("*",)
    statuses: frozenset[Status] = PROBLEMS
    mute: tuple[MuteWindow, ...] = ()

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            if not (_EMAIL.match(value) or _URL.match(value)):
                raise ValueError(f"{value!r} is neither a mail address nor an http(s) URL")
        return values

    def matches(self, change: StatusChange) -> bool:
        if not any(fnmatchcase(change.operation, p) for p in self.operations):
            return False
        if not self.integrations:
            return True
        return change.integration is not None and any(
            fnmatchcase(change.integration, p) for p in self.integrations
        )


@dataclass(frozen=True)
class Route:
    """One recipient of a change; ``firing`` says whether the new status is one the
    recipient asked to hear about (otherwise it can only resolve an earlier alert)."""

    recipient: str
    firing: bool


class Subscriptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    subscriptions: tuple[Subscription, ...] = ()

    def route(self, change: StatusChange) -> list[Route]:
        firing: dict[str, bool] = {}
        for sub in self.subscriptions:
            if sub.matches(change):
                for recipient in sub.recipients:
                    firing[recipient] = firing.get(recipient, False) or change.status in sub.statuses
        return [Route(r, f) for r, f in sorted(firing.items())]

    def muted(self, recipient: str, now: float) -> bool:
        return any(
            window.covers(now)
            for sub in self.subscriptions
            if recipient in sub.recipients
            for window in sub.mute
        )

    def plus(self, subscription: Subscription) -> Subscriptions:
        return Subscriptions(subscriptions=(*self.subscriptions, subscription))


def _where(loc: list[Any], data: dict[str, Any]) -> str:
    """``subscriptions[2] (payments-team).statuses[0]`` from a pydantic error location."""
    if loc[:1] != ["subscriptions"] or len(loc) < 2 or not isinstance(loc[1], int):
        return ".".join(map(str, loc))
    entry = f"subscriptions[{loc[1]}]"
    try:
        name = data["subscriptions"][loc[1]].get("name")
    except (AttributeError, IndexError, KeyError, TypeError):
        name = None
    if name:
        entry += f" ({name})"
    rest = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc[2:])
    return entry + rest


def parse_subscriptions(data: dict[str, Any], source: str) -> Subscriptions:
    """Validated subscriptions; a ``ConfigError`` naming the source, entry and field."""
    try:
        return Subscriptions.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{source}: {_where(list(err['loc']), data)}: {err['msg']}"
            for err in exc.errors(include_url=False)
        ]
        raise ConfigError("\n".join(problems)) from None
