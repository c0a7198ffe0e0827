"""The learned normal of one operation: seasonal call rate and error ratio.

Rate: expected calls per hour for each (day type, hour of day), day type being weekday or
weekend: 48 buckets, each an average over the days seen (a running mean for the first
days, then an EWMA), so a bucket is useful after one day, not after weeks. Between hour
centres the rate is interpolated. An hour during which the operation was in a problem
status is clipped to within a factor of two of what was expected, and any single hour's
count is clipped before it is averaged in, so an incident cannot teach the baseline that
silence or a flood is normal.

Error ratio: a slow EWMA of errors over calls, with a weak prior (about 1%), also paused
during problems. Dispersion: how much burstier than Poisson the traffic is within an
hour, which widens the volume and silence tests for batched producers.
The reasoning: docs/detection.md, "Baselines".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

HOURS = 24
ALPHA_FLOOR = 0.15  # After ~6 days a bucket is an EWMA with this weight per day.
ERROR_HALF_LIFE_CALLS = 5000.0
PRIOR_ERRORS, PRIOR_CALLS = 0.2, 20.0
LN4 = math.log(4)


@lru_cache(maxsize=8192)
def local_hour(hour_start: int, zone: ZoneInfo) -> tuple[int, int]:
    """(weekday 0=Monday, hour of day) of an epoch hour in the operation's time zone."""
    local = datetime.fromtimestamp(hour_start, tz=UTC).astimezone(zone)
    return local.weekday(), local.hour


@lru_cache(maxsize=8192)
def _buckets(hour_start: int, zone: ZoneInfo) -> tuple[tuple[int, int], ...]:
    """(day kind, hour) of the previous, this and the next epoch hour."""
    out = []
    for h in (hour_start - 3600, hour_start, hour_start + 3600):
        weekday, hour = local_hour(h, zone)
        out.append((int(weekday >= 5), hour))
    return tuple(out)


@dataclass(slots=True)
class Baseline:
    hourly: list[list[float]] = field(default_factory=lambda: [[0.0] * HOURS, [0.0] * HOURS])
    seen: list[list[int]] = field(default_factory=lambda: [[0] * HOURS, [0] * HOURS])
    error_calls: float = 0.0
    error_errors: float = 0.0
    dispersion: float = 1.0
    hour_start: int | None = None
    hour_calls: int = 0
    hour_tainted: bool = False

    # Learning -----------------------------------------------------------------

    def learn(self, start: int, calls: int, errors: int, problem: bool, zone: ZoneInfo) -> None:
        """Feed one closed window (``problem``: the operation was in a problem status)."""
        hour = start - start % 3600
        if self.hour_start is None:
            self.hour_start = hour
        elif hour != self.hour_start:
            self._close_hour(zone)
            self.hour_start, self.hour_calls, self.hour_tainted = hour, 0, False
        self.hour_calls += calls
        self.hour_tainted = self.hour_tainted or problem
        if not problem and calls:
            decay = 0.5 ** (calls / ERROR_HALF_LIFE_CALLS)
            self.error_calls = self.error_calls * decay + calls
            self.error_errors = self.error_errors * decay + errors

    def _close_hour(self, zone: ZoneInfo) -> None:
        assert self.hour_start is not None
        weekday, hour = local_hour(self.hour_start, zone)
        kind = int(weekday >= 5)
        seen = self.seen[kind][hour]
        old = self.hourly[kind][hour]
        value = float(self.hour_calls)
        if self.hour_tainted and seen:
            # An hour spent in a problem status moves the baseline only a little, so an
            # incident cannot teach it, and a wrong alarm cannot freeze it either.
            value = min(max(value, 0.5 * old), 2 * old + 10)
        elif seen >= 2:
            value = min(value, 4 * old + 10)
        alpha = max(1.0 / (seen + 1), ALPHA_FLOOR)
        self.hourly[kind][hour] = old + alpha * (value - old)
        self.seen[kind][hour] = seen + 1

    def learn_burstiness(self, minute_counts: list[int]) -> None:
        """Learn how bursty the traffic is from one closed hour of window counts: their
        variance over their mean, against a steady rate over that hour (1 for Poisson,
        ~60 for a batch of 200 calls in three minutes). A level shift between hours does
        not count, only clumping within the hour; each hour moves the estimate at most
        by a factor of four, so one odd hour cannot rewrite it."""
        total = sum(minute_counts)
        if total < 10:
            return
        mean = total / len(minute_counts)
        ratio = sum((x - mean) ** 2 for x in minute_counts) / mean / len(minute_counts)
        step = 0.5 * (math.log(max(ratio, 1.0)) - math.log(self.dispersion))
        self.dispersion = math.exp(math.log(self.dispersion) + max(-LN4, min(LN4, step)))

    # Expectations -------------------------------------------------------------

    def rate(self, start: int, window: int, zone: ZoneInfo) -> tuple[float, float, int]:
        """(low, high, days): calls expected in the window starting at ``start``, and the
        days of history behind that (0 = not known yet).

        Two estimates: the window's own hour bucket, and an interpolation between the
        centres of the neighbouring buckets. The interpolation follows smooth daily
        curves; the bucket keeps sharp edges (a shop closing at 22:00). ``low`` is the
        smaller, used where overestimating would raise false alarms (silence, drops);
        ``high`` the larger, used for floods."""
        hour_start = start - start % 3600
        before, (own_kind, own_hour), after = _buckets(hour_start, zone)
        hourly, seen = self.hourly, self.seen
        own = hourly[own_kind][own_hour]
        # Position of the window's middle between the centres of two hour buckets.
        frac = (start - hour_start + window / 2) / 3600 - 0.5
        (k1, h1), (k2, h2) = (
            ((own_kind, own_hour), after) if frac >= 0 else (before, (own_kind, own_hour))
        )
        frac = frac if frac >= 0 else frac + 1
        smooth = (1 - frac) * hourly[k1][h1] + frac * hourly[k2][h2]
        days = min(seen[k1][h1], seen[k2][h2], seen[own_kind][own_hour])
        scale = window / 3600
        return min(own, smooth) * scale, max(own, smooth) * scale, days

    def calls_per_day(self, start: int, zone: ZoneInfo) -> float:
        """Calls expected over a whole day of the same kind (weekday or weekend)."""
        weekday, _ = local_hour(start - start % 3600, zone)
        return sum(self.hourly[int(weekday >= 5)])

    @property
    def error_ratio(self) -> float:
        return (self.error_errors + PRIOR_ERRORS) / (self.error_calls + PRIOR_CALLS)

    # Storage ------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Baseline:
        unknown = sorted(set(raw) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown baseline fields {unknown}")
        data = dict(raw)
        if "hourly" in data:
            data["hourly"] = [list(map(float, row)) for row in data["hourly"]]
        if "seen" in data:
            data["seen"] = [list(map(int, row)) for row in data["seen"]]
        return cls(**data)


_V1_KEYS = {
    "ec": "error_calls",
    "ee": "error_errors",
    "disp": "dispersion",
    "hs": "hour_start",
    "hc": "hour_calls",
    "ht": "hour_tainted",
}


def migrate_baseline_v1(raw: dict[str, Any]) -> dict[str, Any]:
    """A baseline stored with version 1's short keys, in today's field names."""
    return {_V1_KEYS.get(k, k): v for k, v in raw.items()}
