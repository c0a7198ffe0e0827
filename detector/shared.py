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


def activity_factor(hours: Iterable[tuple[float, float]]) -> float:
    """log of the business-wide factor from (calls, expected) of every operation's same
    closed hour: the weighted median of their log ratios, weights growing with the
    expected calls (sampling noise shrinks) up to ``MAX_WEIGHT``. A median, so one
    operation's incident, or a few, do not move it."""
    votes = sorted(
        (math.log((calls + 0.5) / (expected + 0.5)), min(expected, MAX_WEIGHT))
        for calls, expected in hours
        if expected >= MIN_EXPECTED
    )
    if len(votes) < MIN_VOTERS:
        return 0.0
    half, seen, median = sum(w for _, w in votes) / 2, 0.0, votes[-1][0]
    for ratio, weight in votes:
        seen += weight
        if seen >= half:
            median = ratio
            break
    return max(-LIMIT, min(LIMIT, median))


def hour_factors(pending: Iterable[list[list[float]]]) -> dict[int, float]:
    """The factor of every hour some operation is waiting on, from all operations'
    ``Baseline.pending`` ([hour start, calls, expected, tainted] each)."""
    by_hour: dict[int, list[tuple[float, float]]] = {}
    for hours in pending:
        for hour_start, calls, expected, _ in hours:
            by_hour.setdefault(int(hour_start), []).append((calls, expected))
    return {hour: activity_factor(votes) for hour, votes in by_hour.items()}
