"""Realistic, labelled traffic: what a newcomer publishes to see the detector work, and
the suite the quality benchmark replays.

Per operation, an expected rate per minute from a daily shape (daytime, office hours,
opening hours, nightly batch, round the clock) and a weekend factor; Poisson counts and
binomial errors drawn from a seeded generator per (operation, day), so any time range
can be generated on its own and the same seed always gives the same traffic. Incidents
multiply the rate or replace the error ratio over their span.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from detector.status import Status

Shape = Literal["daytime", "office", "opening", "nightly", "flat"]
Kind = Literal["all_failing", "partial_errors", "silence", "volume_drop", "flood", "noise"]
DAY = 86400
MINUTES = np.arange(1440)


@dataclass(frozen=True)
class Profile:
    operation: str
    integration: str
    calls_per_day: float
    shape: Shape
    error_ratio: float
    weekend: float = 0.7  # Weekend traffic relative to a weekday.
    retry_ratio: float = 0.01


@dataclass(frozen=True)
class Incident:
    operation: str
    kind: Kind
    start: int
    end: int

    @property
    def expected(self) -> set[Status]:
        """The statuses a detector should give; empty for noise that must not alert."""
        return {
            "all_failing": {Status.MANY_PROBLEMS},
            "partial_errors": {Status.SOME_PROBLEMS, Status.MANY_PROBLEMS},
            "silence": {Status.NO_CALLS},
            "volume_drop": {Status.SOME_PROBLEMS},
            "flood": {Status.SOME_PROBLEMS},
            "noise": set(),
        }[self.kind]


def daily_shape(shape: Shape) -> npt.NDArray[np.float64]:
    """Share of a day's calls per minute of the day (sums to 1)."""
    hours = MINUTES / 60
    if shape == "daytime":
        curve = 0.05 + np.exp(-(((hours - 14) / 4.5) ** 2))
    elif shape == "office":
        curve = ((hours >= 9) & (hours < 18)).astype(float) * (
            1 + 0.3 * np.sin((hours - 9) / 9 * math.pi)
        )
    elif shape == "opening":
        curve = ((hours >= 8) & (hours < 22)).astype(float) * (
            0.6 + np.exp(-(((hours - 17) / 3) ** 2))
        )
    elif shape == "nightly":
        curve = ((MINUTES >= 120) & (MINUTES < 123)).astype(float)
    else:
        curve = np.ones(1440)
    result: npt.NDArray[np.float64] = curve / curve.sum()
    return result


def day_rates(profile: Profile, day_start: int, offset: int) -> npt.NDArray[np.float64]:
    """Expected calls per minute over one local day starting at ``day_start`` (epoch)."""
    weekday = ((day_start + offset) // DAY + 3) % 7  # 1970-01-01 was a Thursday.
    if profile.shape == "office" and weekday >= 5:
        return np.zeros(1440)
    factor = profile.weekend if weekday >= 5 and profile.shape != "nightly" else 1.0
    rates: npt.NDArray[np.float64] = daily_shape(profile.shape) * profile.calls_per_day * factor
    return rates


def generate(
    profiles: list[Profile],
    incidents: list[Incident],
    start: int,
    end: int,
    *,
    seed: int = 1,
    utc_offset: int = 0,
) -> Iterator[dict[str, Any]]:
    """Per-minute pre-aggregated records for [start, end), in timestamp order."""
    first_day = (start + utc_offset) // DAY * DAY - utc_offset
    for day_start in range(first_day, end, DAY):
        days = [_day(p, incidents, day_start, seed, utc_offset) for p in profiles]
        for minute in range(1440):
            ts = day_start + minute * 60
            if ts < start or ts >= end:
                continue
            for profile, (counts, errors, retries) in zip(profiles, days, strict=True):
                n = int(counts[minute])
                if n == 0:
                    continue
                record: dict[str, Any] = {
                    "operation": profile.operation,
                    "integration": profile.integration,
                    "timestamp": ts + 30,
                    "count": n,
                    "errors": int(errors[minute]),
                }
                yield record
                if retries[minute]:
                    yield {
                        **record,
                        "count": int(retries[minute]),
                        "errors": None,
                        "status": "retrying",
                    }


def _day(
    profile: Profile, incidents: list[Incident], day_start: int, seed: int, offset: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    key = zlib.crc32(f"{seed}/{profile.operation}/{day_start}".encode())
    rng = np.random.default_rng(key)
    rates = day_rates(profile, day_start, offset)
    ratio = np.full(1440, profile.error_ratio)
    times = day_start + MINUTES * 60
    for incident in incidents:
        if incident.operation != profile.operation:
            continue
        span = (times >= incident.start) & (times < incident.end)
        _apply(incident.kind, span, rates, ratio)
    counts = rng.poisson(rates)
    errors = rng.binomial(counts, np.clip(ratio, 0, 1))
    retries = rng.binomial(counts - errors, profile.retry_ratio)
    return counts, errors, retries


def _apply(
    kind: Kind,
    span: npt.NDArray[np.bool_],
    rates: npt.NDArray[np.float64],
    ratio: npt.NDArray[np.float64],
) -> None:
    if kind == "all_failing":
        ratio[span] = 1.0
    elif kind == "partial_errors":
        ratio[span] = np.minimum(1.0, ratio[span] + 0.3)
    elif kind == "silence":
        rates[span] = 0.0
    elif kind == "volume_drop":
        rates[span] *= 0.25
    elif kind == "flood":
        rates[span] *= 8.0
    else:  # noise: a little more traffic and errors than usual, within normal wobble.
        rates[span] *= 1.3
        ratio[span] *= 1.3


PROFILES = [
    Profile("Website.Subscribe", "website", 3000, "daytime", 0.01),
    Profile("Website.Unsubscribe", "website", 30, "daytime", 0.005),
    Profile("Website.Registration", "website", 800, "daytime", 0.10),
    Profile("Website.Feedback", "website", 60, "daytime", 0.01),
    Profile("Mobile.Login", "app", 20000, "daytime", 0.02),
    Profile("Mobile.AuthCode", "app", 1500, "daytime", 0.05),
    Profile("Pos.Sale", "pos", 5000, "opening", 0.01, weekend=1.2),
    Profile("Pos.LoyaltyPoints", "pos", 600, "opening", 0.02, weekend=1.2),
    Profile("Crm.Sync", "crm", 900, "office", 0.005),
    Profile("Erp.NightlyExport", "erp", 200, "nightly", 0.0, retry_ratio=0.0),
    Profile("Webhook.Delivery", "webhooks", 2000, "flat", 0.03),
    Profile("Email.Send", "email", 10000, "daytime", 0.005),
]


def suite_incidents(start: int) -> list[Incident]:
    """The labelled incidents of the quality suite: weeks 3 to 5 of traffic from ``start``
    (a Monday 00:00), one of each kind and noise that must not alert."""

    def at(day: int, hour: float) -> int:
        return start + day * DAY + int(hour * 3600)

    return [
        Incident("Mobile.Login", "all_failing", at(15, 10), at(15, 10.5)),
        Incident("Website.Subscribe", "partial_errors", at(17, 14), at(17, 16)),
        Incident("Website.Unsubscribe", "silence", at(18, 9), at(20, 9)),
        Incident("Email.Send", "volume_drop", at(21, 11), at(21, 14)),
        Incident("Webhook.Delivery", "flood", at(23, 15), at(23, 16)),
        Incident("Pos.Sale", "silence", at(24, 12), at(24, 13)),
        Incident("Crm.Sync", "all_failing", at(28, 10), at(28, 11)),
        Incident("Mobile.AuthCode", "partial_errors", at(30, 19), at(30, 21)),
        Incident("Website.Registration", "noise", at(31, 11), at(31, 13)),
        Incident("Pos.LoyaltyPoints", "noise", at(32, 15), at(32, 17)),
    ]


def true_rate(profile: Profile, ts: int, utc_offset: int = 0) -> float:
    """The simulator's expected calls per minute at ``ts`` (for measuring detectors)."""
    day_start = (ts + utc_offset) // DAY * DAY - utc_offset
    return float(day_rates(profile, day_start, utc_offset)[(ts - day_start) // 60])
