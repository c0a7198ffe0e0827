"""Failures remembered as evidence: the current run of failures with one error code
(no success between), and failures per local hour of the last days, which shows a job
that fails at the same time every night. Only failures and the successes that end a run
change this state, so the worker may hand over just those (``detector.lifecycle.batch``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

DAYS = 7  # Days of failures kept by hour.
MIN_FAILURES = 3  # Failures in the hour for the day to count as failing at that hour,
PEAK_SHARE = 0.5  # ... and at least this share of the day's failures.
MIN_DAYS = 3  # Days failing around the same hour before it is called a pattern.


@dataclass(slots=True)
class Streak:
    """Failures in a row with the same error code."""

    code: str
    message: str
    count: int
    first: float
    last: float

    def to_list(self) -> list[Any]:
        return [self.code, self.message, self.count, self.first, self.last]

    @classmethod
    def from_list(cls, raw: list[Any]) -> Streak:
        code, message, count, first, last = raw
        return cls(str(code), str(message), int(count), float(first), float(last))


def extend(streak: Streak | None, code: str, message: str, ts: float) -> Streak:
    if streak is not None and streak.code == code:
        streak.count += 1
        streak.last = max(streak.last, ts)
        return streak
    return Streak(code, message, 1, ts, ts)


@dataclass(slots=True)
class FailureDays:
    """Failures per local hour of each of the last ``DAYS`` days."""

    days: dict[str, dict[int, int]] = field(default_factory=dict)
    _hours: dict[int, tuple[str, int]] = field(default_factory=dict)  # Not persisted.
    # ``recurring`` of these days while none is added (it is asked every hour). Not persisted.
    _pattern: list[str | None] = field(default_factory=list, compare=False)

    def local(self, ts: float, zone: ZoneInfo) -> tuple[str, int]:
        """(local date, local hour) of ``ts``, cached per UTC hour (offsets change on hours)."""
        key = int(ts // 3600)
        found = self._hours.get(key)
        if found is None:
            moment = datetime.fromtimestamp(key * 3600, tz=UTC).astimezone(zone)
            found = self._hours[key] = (moment.date().isoformat(), moment.hour)
            if len(self._hours) > 64:
                self._hours.pop(next(iter(self._hours)))
        return found

    def add(self, ts: float, failures: int, zone: ZoneInfo) -> None:
        self._pattern.clear()
        day, hour = self.local(ts, zone)
        hours = self.days.setdefault(day, {})
        hours[hour] = hours.get(hour, 0) + failures
        if len(self.days) > DAYS:
            del self.days[min(self.days)]

    def to_dict(self) -> dict[str, Any]:
        return {d: {str(h): v for h, v in hours.items()} for d, hours in self.days.items()}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> FailureDays:
        return cls({d: {int(h): int(v) for h, v in hours.items()} for d, hours in raw.items()})


def peak_hour(hours: dict[int, int]) -> int | None:
    """The hour holding most of a day's failures, if they cluster there."""
    hour, failures = max(hours.items(), key=lambda kv: (kv[1], -kv[0]))
    if failures < MIN_FAILURES or failures < PEAK_SHARE * sum(hours.values()):
        return None
    return hour


def recurring(history: FailureDays) -> str | None:
    """'failed around 03:00 on 3 of the last 3 days' when failures cluster at one time
    of day (within an hour) on ``MIN_DAYS`` or more of the days kept."""
    if not history._pattern:
        history._pattern.append(_recurring(history))
    return history._pattern[0]


def _recurring(history: FailureDays) -> str | None:
    peaks = {d: h for d, hours in history.days.items() if (h := peak_hour(hours)) is not None}
    best: tuple[int, list[str]] | None = None
    for hour in sorted(set(peaks.values())):
        near = sorted(d for d, h in peaks.items() if min(abs(h - hour), 24 - abs(h - hour)) <= 1)
        if best is None or len(near) > len(best[1]):
            best = (hour, near)
    if best is None or len(best[1]) < MIN_DAYS:
        return None
    hour, days = best
    span = (date.fromisoformat(days[-1]) - date.fromisoformat(days[0])).days + 1
    return f"failed around {hour:02d}:00 on {len(days)} of the last {span} days"
