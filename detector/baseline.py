"""The learned normal of one operation: seasonal call rate and error ratio.

Rate: expected calls per hour for each (day type, hour of day), day type being weekday or
weekend: 48 buckets, each an average over the days seen (a running mean for the first
days, then an EWMA), so a bucket is useful after one day, not after weeks. Between hour
centres the rate is interpolated. An hour during which the operation was in a problem
status is not learned from, and a single hour's count is clipped before it is averaged
in, so an incident cannot teach the baseline that silence or a flood is normal.

Error ratio: a slow EWMA of errors over calls, with a weak prior (about 1%), also paused
during problems. Dispersion: how much burstier than Poisson the traffic is (variance over
mean per window), which widens the volume and silence tests for batched producers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

HOURS = 24
ALPHA_FLOOR = 0.15  # After ~6 days a bucket is an EWMA with this weight per day.
ERROR_HALF_LIFE_CALLS = 5000.0
PRIOR_ERRORS, PRIOR_CALLS = 0.2, 20.0


@lru_cache(maxsize=8192)
def local_hour(hour_start: int, zone: ZoneInfo) -> tuple[int, int]:
    """(weekday 0=Monday, hour of day) of an epoch hour in the operation's time zone."""
    local = datetime.fromtimestamp(hour_start, tz=UTC).astimezone(zone)
    return local.weekday(), local.hour


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
        if self.hour_tainted:
            return
        weekday, hour = local_hour(self.hour_start, zone)
        kind = int(weekday >= 5)
        seen = self.seen[kind][hour]
        old = self.hourly[kind][hour]
        value = float(self.hour_calls)
        if seen >= 2:
            value = min(value, 4 * old + 10)
        alpha = max(1.0 / (seen + 1), ALPHA_FLOOR)
        self.hourly[kind][hour] = old + alpha * (value - old)
        self.seen[kind][hour] = seen + 1

    def learn_dispersion(self, observed: int, expected: float) -> None:
        if expected >= 0.5:
            ratio = (observed - expected) ** 2 / expected
            self.dispersion = min(
                500.0, max(1.0, self.dispersion + 0.02 * (ratio - self.dispersion))
            )

    # Expectations -------------------------------------------------------------

    def rate(self, start: int, window: int, zone: ZoneInfo) -> tuple[float, int]:
        """(expected calls in the window starting at ``start``, days of history behind it).

        Interpolates between the centres of the neighbouring hour buckets; the days of
        history is the smaller of the two buckets' (0 = not known yet)."""
        mid = start + window / 2
        centre = mid - 1800
        base = int(centre - centre % 3600)
        frac = (centre - base) / 3600
        w1, h1 = local_hour(base, zone)
        w2, h2 = local_hour(base + 3600, zone)
        k1, k2 = int(w1 >= 5), int(w2 >= 5)
        per_hour = (1 - frac) * self.hourly[k1][h1] + frac * self.hourly[k2][h2]
        days = min(self.seen[k1][h1], self.seen[k2][h2])
        return per_hour * window / 3600, days

    @property
    def error_ratio(self) -> float:
        return (self.error_errors + PRIOR_ERRORS) / (self.error_calls + PRIOR_CALLS)

    @property
    def error_evidence(self) -> float:
        """Calls behind the learned ratio (decayed)."""
        return self.error_calls

    # Storage ------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "hourly": self.hourly,
            "seen": self.seen,
            "ec": self.error_calls,
            "ee": self.error_errors,
            "disp": self.dispersion,
            "hs": self.hour_start,
            "hc": self.hour_calls,
            "ht": self.hour_tainted,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Baseline:
        return cls(
            [list(map(float, row)) for row in raw["hourly"]],
            [list(map(int, row)) for row in raw["seen"]],
            raw["ec"],
            raw["ee"],
            raw["disp"],
            raw["hs"],
            raw["hc"],
            raw["ht"],
        )
