"""One grammar for the time ranges of every configuration file: detection schedules
(``schedule: "weekdays 09:00-18:00"``) and subscribers' mute windows
(``mute: ["weekdays 22:00-07:00"]``) mean the same thing, past midnight included."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator

_RANGE = re.compile(r"^(daily|weekdays|weekends)\s+(\d\d):(\d\d)-(\d\d):(\d\d)$")
_EXAMPLE = "'weekdays 09:00-18:00' (daily|weekdays|weekends, HH:MM-HH:MM, 24:00 ends a day)"

Days = Literal["daily", "weekdays", "weekends"]


def _minute(hours: str, minutes: str, text: str) -> int:
    value = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or value > 24 * 60:
        raise ValueError(f"{text!r}: {hours}:{minutes} is not a time of day")
    return value


class TimeRange(BaseModel):
    """Days and minutes of the day ``[start, end)``. A range whose end is before its
    start runs past midnight: the evening belongs to the day named, the early hours to
    the day after (``weekdays 22:00-06:00`` covers Friday night into Saturday 06:00)."""

    model_config = ConfigDict(frozen=True)
    days: Days
    start: int
    end: int

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        return parse_range(value) if isinstance(value, str) else value

    def contains(self, weekday: int, minute: int) -> bool:
        """Whether local ``weekday`` (Monday 0) at ``minute`` of the day is in the range."""
        if self.start <= self.end:
            return _day_ok(self.days, weekday) and self.start <= minute < self.end
        if minute >= self.start:
            return _day_ok(self.days, weekday)
        return minute < self.end and _day_ok(self.days, (weekday - 1) % 7)


def _day_ok(days: Days, weekday: int) -> bool:
    return days == "daily" or (days == "weekdays") == (weekday < 5)


def parse_range(text: str) -> dict[str, Any]:
    """The fields of a ``TimeRange`` from its text; ``ValueError`` with an example."""
    match = _RANGE.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not like {_EXAMPLE}")
    days, h1, m1, h2, m2 = match.groups()
    start, end = _minute(h1, m1, text), _minute(h2, m2, text)
    if start == end:
        raise ValueError(f"{text!r} is empty; use 00:00-24:00 for the whole day")
    if start == 24 * 60:
        raise ValueError(f"{text!r}: a range cannot start at 24:00")
    return {"days": days, "start": start, "end": end}
