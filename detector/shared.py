"""The business-wide activity factor of one hour: how much busier or quieter than its
own normal the whole business was, estimated robustly from all operations.

A quiet day, a holiday or a viral hour moves every operation together; judged against
that shared factor, it is not a problem of any one operation, while one operation
dropping while its siblings are normal still is (docs/detection.md, "Shared shifts").
A pure step between hours: the shell collects every operation's closed hour
(``Baseline.pending``) and hands the factor back to ``Engine.settle``; replay and the
live evaluator share it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

MIN_EXPECTED = 5.0  # Operations expecting fewer calls in the hour are too noisy to vote.
MIN_VOTERS = 3  # Fewer voting operations: no shared factor (0.0).
MAX_WEIGHT = 100.0  # One busy operation weighs at most as much as a few others.
LIMIT = math.log(20)  # The factor stays within 1/20 and 20 times normal.
CLIP = 3.0**2 / 2  # One operation's say on the day's profile: at most 3 spreads' worth.
VOTE_SPREAD_FLOOR = 0.04  # A day's vote: no operation is taken as steadier than ~20%/hour.
TRICKLE = 0.1  # A holiday's office trickles: the weekend profile expects at least 10%.
OUTLIER = 3.0  # Spreads off both profiles: the operation's own trouble, not the day's.
BUCKET_DAYS = 12.0  # The days an hour bucket's daily EWMA (weight 0.15) averages over.


def activity_factor(hours: Iterable[tuple[float, float]]) -> float:
    """log of the business-wide factor from (calls, expected) of every operation's same
    closed hour: the weighted median of their log ratios, weights growing with the
    expected calls (sampling noise shrinks) up to ``MAX_WEIGHT``. A median, so one
    operation's incident, or a few, do not move it."""
    votes = [
        (math.log((calls + 0.5) / (expected + 0.5)), min(expected, MAX_WEIGHT))
        for calls, expected in hours
        if expected >= MIN_EXPECTED
    ]
    if len(votes) < MIN_VOTERS:
        return 0.0
    return max(-LIMIT, min(LIMIT, _weighted_median(votes)))


def _weighted_median(votes: list[tuple[float, float]]) -> float:
    """The value at half the total weight of (value, weight) pairs."""
    ordered = sorted(votes)
    half, seen = sum(w for _, w in ordered) / 2, 0.0
    for value, weight in ordered:
        seen += weight
        if seen >= half:
            return value
    return ordered[-1][0]


CLUMP_VOTER = 20.0  # Operations whose errors weigh less say too little of how they clump.


def error_clump_pool(clumps: Iterable[list[float]]) -> float:
    """How errors clump across operations (the clients' retries are often the same
    library's), from each one's ``Baseline.error_clumps``: the weighted median of the
    operations that learned from enough errors, weights as the activity factor's; 1
    (errors come one by one) with fewer than ``MIN_VOTERS``."""
    votes = [
        (spread / variance, min(variance, MAX_WEIGHT))
        for spread, variance in clumps
        if variance >= CLUMP_VOTER
    ]
    return max(1.0, _weighted_median(votes)) if len(votes) >= MIN_VOTERS else 1.0


SHIFT_CLIP = 0.5  # Siblings' incidents move an operation's factor at most this far.
TEACHING = 20.0  # Hours expecting fewer calls are too noisy to teach the siblings' share.


def sibling_shifts(
    entries: Iterable[tuple[str, str | None, list[list[float]]]], factors: dict[int, float]
) -> dict[str, dict[int, tuple[float, float, bool]]]:
    """From (operation, integration, ``Baseline.pending``) of the operations judged by
    volume and the business-wide ``factors`` of their hours: per operation and hour,
    (x, y, teaches): x is the shift beyond the business-wide factor of the other
    operations of its integration (their log ratios' mean weighted as the factor's
    votes, over those untainted and expecting ``MIN_EXPECTED`` calls or more; clipped
    at ``SHIFT_CLIP``, so a sibling's incident moves it little), y the operation's own
    shift, and whether the hour may teach the regression of y on x
    (``Baseline.sibling_beta``). A mean of its siblings, not a
    median including itself: an operation that is its integration's median would read
    its own hours as normal and learn a spread too narrow (measured: most of the false
    drops of a per-integration median were single ordinary hours)."""
    devs: dict[tuple[str, int], list[tuple[str, float, float]]] = {}
    own: dict[tuple[str, int], tuple[str, float, bool]] = {}
    for op, integration, pending in entries:
        if integration is None:
            continue
        for entry in pending:
            hour = int(entry[0])
            if hour not in factors or entry[2] < MIN_EXPECTED:
                continue
            d = math.log((entry[1] + 0.5) / (entry[2] + 0.5)) - factors[hour]
            own[(op, hour)] = (integration, d, not entry[3] and entry[2] >= TEACHING)
            if not entry[3]:
                devs.setdefault((integration, hour), []).append((op, d, min(entry[2], MAX_WEIGHT)))
    result: dict[str, dict[int, tuple[float, float, bool]]] = {}
    for (op, hour), (integration, d, learn) in own.items():
        others = [(v, w) for o, v, w in devs.get((integration, hour), []) if o != op]
        if not others:
            continue
        x = sum(v * w for v, w in others) / sum(w for _, w in others)
        x = max(-SHIFT_CLIP, min(SHIFT_CLIP, x))
        result.setdefault(op, {})[hour] = (x, d, learn)
    return result


Vote = tuple[float, float, float, float, float, float, float]


def weekend_evidence(hours: Iterable[Vote]) -> float | None:
    """Log likelihood ratio that one closed hour of a weekday follows the business's
    weekend profile rather than its weekday one, from every voting operation's (calls,
    weekday bucket, weekend bucket, days behind each, learned hourly spread,
    dispersion); a bucket not known yet is -1. None: too few voters to say.

    Under each profile, an operation's log ratio to that profile's bucket less the
    business-wide factor (the weighted median under that profile) is normal with the
    operation's spread plus its sampling variance plus the error of both buckets (a mean
    over the days behind each, at most ~12 for the daily EWMA), so quiet night hours,
    noisy operations and young weekend buckets weigh little. Each operation's term is
    clipped (at 3 spreads), so one operation's incident, or an office trickling on a
    holiday, cannot decide the day. Where both profiles differ only by a common factor
    (a daytime shop at night), the hour says little; shops opening at their weekend
    level beside quiet offices say a lot.

    Three guards against one operation deciding the day wrongly: its spread is taken as
    at least ~20% an hour (``down`` only learns falls: an operation that stepped up has a
    tiny one); the weekend profile expects at least ``TRICKLE`` of the weekday's (an
    office closed at weekends trickles on a holiday, and 6 calls against 0 would read
    as far above the weekend); and an operation off both profiles by more than
    ``OUTLIER`` spreads (a step, its own incident) does not vote; nearer, it says at
    most what a perfect fit to one profile would."""
    votes = []
    for calls, weekday, weekend, days_wd, days_we, spread, dispersion in hours:
        if min(weekday, weekend) < 0 or max(weekday, weekend) < MIN_EXPECTED:
            continue
        weekend = max(weekend, TRICKLE * weekday)
        spread = max(spread, VOTE_SPREAD_FLOOR)
        sampling = dispersion / math.sqrt((calls + 0.5) * ((weekday + weekend) / 2 + 0.5))
        buckets = sum(
            (spread + dispersion / (bucket + 0.5)) / min(max(days, 1.0), BUCKET_DAYS)
            for bucket, days in ((weekday, days_wd), (weekend, days_we))
        )
        votes.append((calls, weekday, weekend, spread + sampling + buckets))
    if len(votes) < MIN_VOTERS:
        return None
    weekdays = [math.log((c + 0.5) / (a + 0.5)) for c, a, *_ in votes]
    weekends = [math.log((c + 0.5) / (b + 0.5)) for c, _, b, *_ in votes]
    weights = [min(max(a, b), MAX_WEIGHT) for _, a, b, *_ in votes]
    on_weekday = _weighted_median(list(zip(weekdays, weights, strict=True)))
    on_weekend = _weighted_median(list(zip(weekends, weights, strict=True)))
    total = 0.0
    for (*_, variance), rd, re in zip(votes, weekdays, weekends, strict=True):
        off_weekday, off_weekend = rd - on_weekday, re - on_weekend
        if min(off_weekday**2, off_weekend**2) > OUTLIER**2 * variance:
            continue
        # No closer fit than a perfect one: beyond its weekday prediction on the side
        # away from the weekend one (a stepped-up operation), it says no more than that.
        most = min(CLIP, (off_weekday - off_weekend) ** 2 / (2 * variance))
        term = (off_weekday**2 - off_weekend**2) / (2 * variance)
        total += max(-most, min(most, term))
    return total


def hour_factors(
    pending: Iterable[list[list[float]]], abstaining: Iterable[list[list[float]]] = ()
) -> dict[int, float]:
    """The factor of every hour some operation is waiting on, from the voting
    operations' ``Baseline.pending`` ([hour start, calls, expected, tainted] each).
    ``abstaining``: the pending hours of operations that do not vote (scheduled jobs and
    batches keep their own clock: a holiday or a quiet day does not move them, and
    their votes would pull the factor back to normal); their hours get a factor too."""
    by_hour: dict[int, list[tuple[float, float]]] = {}
    for hours in abstaining:
        for hour_start, *_ in hours:
            by_hour.setdefault(int(hour_start), [])
    for hours in pending:
        for entry in hours:
            by_hour.setdefault(int(entry[0]), []).append((entry[1], entry[2]))
    return {hour: activity_factor(votes) for hour, votes in by_hour.items()}
