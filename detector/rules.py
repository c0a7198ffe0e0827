"""The rules: each a pure function of recent counts and the baseline, returning a
``Finding`` (status, reason in words, observed and expected figures) or None.

Every rule asks two questions (docs/detection.md): is the observation surprising under the
operation's own normal (a tail probability below the rule's p-value), and is the effect
big enough to matter (several times the normal, not 0.5% -> 0.6%)?
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from detector import wording
from detector.opconfig import Rule
from detector.stats import binomial_upper_log_p, poisson_lower_log_p, poisson_upper_log_p
from detector.status import Status

MIN_ERRORS = 3  # A failure or two among successes never changes a status.
LEARNING_MIN_ERRORS = 10
PRIOR_RATIO = 0.01  # What a new operation's error ratio is judged against.
Moment = tuple[int, int]  # (weekday, hour) in the operation's time zone, for wording.
Z = 1.645  # One-sided 95%: how sure "most calls are failing" must be.


@dataclass(frozen=True, slots=True)
class Finding:
    status: Status
    reason: str
    observed: dict[str, Any] = field(default_factory=dict)
    expected: dict[str, Any] = field(default_factory=dict)


def wilson_lower(k: int, n: int) -> float:
    """Lower confidence bound of a ratio k/n (Wilson score), honest for small n."""
    p, z2 = k / n, Z * Z
    centre = p + z2 / (2 * n)
    spread = Z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return (centre - spread) / (1 + z2 / n)


def severe_ratio(normal: float) -> float:
    """Most calls failing, well beyond the normal: ``many_problems``."""
    return max(0.5, normal + 0.4)


def clear_ratio(normal: float) -> float:
    """A clear rise over the normal: ``some_problems`` when also significant."""
    return max(2 * normal, normal + 0.05)


def error_spike(
    lookbacks: list[tuple[int, int, int]], normal: float, rule: Rule, learning: bool
) -> Finding | None:
    """``lookbacks``: (minutes, calls, errors), shortest first; the strongest finding wins."""
    reference = PRIOR_RATIO if learning else normal
    allowance = reference * 1.5 + 0.002  # Day-to-day wobble of the normal ratio.
    log_p = math.log(rule.p_value)
    best: Finding | None = None
    for minutes, n, k in lookbacks:
        if n < rule.min_volume or k < (LEARNING_MIN_ERRORS if learning else MIN_ERRORS):
            continue
        ratio = k / n
        if binomial_upper_log_p(k, n, allowance) > log_p:
            continue
        if wilson_lower(k, n) >= severe_ratio(reference):
            status = Status.MANY_PROBLEMS
        elif ratio >= clear_ratio(reference) and not learning:
            status = Status.SOME_PROBLEMS
        else:
            continue
        if best is None or (status is Status.MANY_PROBLEMS and best.status is not status):
            normally = "new operation" if learning else f"normally {wording.percent(normal)}"
            best = Finding(
                status,
                f"{wording.percent(ratio)} of {wording.calls(n)} failed in the last "
                f"{wording.duration(minutes * 60)}; {normally}",
                {"calls": n, "errors": k, "error_ratio": round(ratio, 4), "minutes": minutes},
                {"error_ratio": round(reference, 4)},
            )
    return best


def silence_threshold(per_day: float, days: int, rule: Rule) -> float:
    """Expected calls (in bursts) that must pass without a call before ``no_calls``.

    Zero calls where Λ were expected has probability exp(-Λ). A silence check is made
    at every window, and a day holds about per_day/10 nearly independent stretches of
    ten expected calls; the threshold grows with their log so that the false alarms
    per operation-day stay within budget for busy and rare operations alike (a
    Bonferroni correction), capped so that a busy operation is still judged within
    minutes. A baseline that has seen few days gets a wider margin."""
    stretches = max(1.0, per_day / 10)
    base = min(13.0, -math.log(10 * rule.p_value) + math.log(stretches))
    return base * (1 + 1.5 / days)


def silence(
    gap_seconds: float, expected: float, effective: float, threshold: float, when: Moment
) -> Finding | None:
    """No call for ``gap_seconds`` while ``expected`` calls were (``effective``: in
    independent bursts); declared once ``effective`` passes ``threshold``."""
    if effective < threshold:
        return None
    return Finding(
        Status.NO_CALLS,
        f"0 calls in the last {wording.duration(gap_seconds)}; about "
        f"{wording.about(expected)} expected {wording.when(*when)}",
        {"calls": 0, "minutes": round(gap_seconds / 60)},
        {"calls": round(expected, 2)},
    )


def expectation_gap(gap_seconds: float, rule: Rule) -> Finding | None:
    """The configured promise "at least one call every N" was broken."""
    if rule.expect_every is None or gap_seconds < rule.expect_every:
        return None
    return Finding(
        Status.NO_CALLS,
        f"no call for {wording.duration(gap_seconds)}; at least one expected every "
        f"{wording.duration(rule.expect_every)}",
        {"calls": 0, "minutes": round(gap_seconds / 60)},
        {"every_minutes": rule.expect_every // 60},
    )


def volume(
    minutes: int,
    n: int,
    low: float,
    high: float,
    dispersion: float,
    days: int,
    rule: Rule,
    when: Moment,
) -> Finding | None:
    """Far fewer calls than even the low estimate without being zero, or a flood far
    above even the high one; the tails are taken in bursts (over-dispersion)."""
    if days < 1:
        return None
    log_p = math.log(rule.p_value) * (1 + 1.5 / days)
    if 0 < n <= 0.4 * low:
        expected, kind = low, "drop"
        if poisson_lower_log_p(n / dispersion, low / dispersion) > log_p:
            return None
    elif n >= 3 * high + 10:
        expected, kind = high, "flood"
        if poisson_upper_log_p(n / dispersion, max(high, 0.1) / dispersion) > log_p:
            return None
    else:
        return None
    return Finding(
        Status.SOME_PROBLEMS,
        f"{wording.calls(n)} in the last {wording.duration(minutes * 60)}; about "
        f"{wording.about(expected)} expected {wording.when(*when)}",
        {"calls": n, "minutes": minutes, "volume": kind},
        {"calls": round(expected, 2)},
    )
