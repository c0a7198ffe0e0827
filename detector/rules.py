"""The rules: each a pure function of recent counts and the baseline, returning a
``Finding`` (status, reason in words, observed and expected figures) or None.

Every rule asks two questions (docs/detection.md): is the observation surprising under the
operation's own normal (a tail probability below the rule's p-value), and is the effect
big enough to matter (several times the normal, not 0.5% -> 0.6%)?
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

from detector import wording
from detector.baseline import BATCHED, SCALES, SPREAD_FLOOR, consecutive
from detector.opconfig import Rule
from detector.stats import binomial_upper_log_p, poisson_upper_log_p
from detector.status import Status

MIN_ERRORS = 3  # A failure or two among successes never changes a status.
LEARNING_MIN_ERRORS = 10
PRIOR_RATIO = 0.01  # What a new operation's error ratio is judged against.
Moment = tuple[int, int]  # (weekday, hour) in the operation's time zone, for wording.
Z = 1.645  # One-sided 95%: how sure "most calls are failing" must be.
DROP_EFFECT = math.log(0.6)  # A drop is at most 60% of the expected volume ...
DROP_LAST = math.log(0.8)  # ... with its last hour still below 80% (not recovered).
MIN_HOUR_EXPECTED = 3.0  # Hours expecting fewer calls are not judged for volume.
BATCH_WEIGHT = BATCHED * math.log(BATCHED) / (BATCHED - 1)
SPREAD_CEILING = 0.1  # A rare operation's spread is noise: doubt its level at most this.
FLOOD_FLOOR, FLOOD_CEILING = 3.0, 10.0  # A flood's multiple of the expectation.
CUSUM_SLACK = 1.0  # Spreads an hour must fall by to add to a sustained drop's evidence.
CUSUM_CLIP = 4.0  # The most spreads one hour's fall counts for.
LOOP_MIN = 30  # Looped messages in the lookback before a resend loop is a finding ...
LOOP_EFFECT = 0.2  # ... and a share of the calls this far above the operation's normal.


@dataclass(frozen=True, slots=True)
class Finding:
    status: Status
    reason: str
    observed: dict[str, Any] = field(default_factory=dict)
    expected: dict[str, Any] = field(default_factory=dict)


def wilson_lower(k: float, n: float) -> float:
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


# The wobble's normal prior in bins of a quarter spread: (upper end of the bin in
# spreads, its probability); the mass below the median is put at the median. Using each
# bin's upper end bounds the mixture's tail from above, like the Chernoff bounds.
_WOBBLE_BINS = [
    (z + 0.125, NormalDist().cdf(z + 0.125) - (NormalDist().cdf(z - 0.125) if z else 0.0))
    for z in (i / 4 for i in range(27))
]


def wobbly_upper_log_p(k: float, n: float, q: float, wobble: float) -> float:
    """log P(X >= k) bound for X ~ Binomial(n, Q), the ratio Q wobbling log-normally
    around ``q`` with spread ``wobble`` (hour to hour, day to day): the binomial's
    mixture over the wobble. For a few calls it is the binomial; for many, the
    ratio's own wobble: 37% of 75 calls failing on a form that fails 10% of its calls
    and wobbles by a third is a bad hour, not an incident."""
    plain = binomial_upper_log_p(k, n, q)
    if wobble <= 0 or plain == 0.0:
        return plain
    terms = [
        math.log(weight) + binomial_upper_log_p(k, n, min(q * math.exp(z * wobble), 1.0))
        for z, weight in _WOBBLE_BINS
    ]
    top = max(terms)
    return min(0.0, top + math.log(sum(math.exp(t - top) for t in terms)))


def error_spike(
    lookbacks: list[tuple[int, int, int]],
    normal: float,
    rule: Rule,
    learning: bool,
    wobble: float = 0.0,
    pinned: Callable[[], tuple[float, float] | None] | None = None,
    clump: float = 1.0,
) -> Finding | None:
    """``lookbacks``: (minutes, calls, errors), shortest first; the strongest finding
    wins. ``wobble``: the operation's learned spread of its error ratio
    (``Baseline.error_wobble``). ``pinned``: today's ratio from its earlier hours and
    the spread left around it (``Baseline.pinned_ratio``), asked for only when some
    lookback has the effect: the surprise is judged against the day's own level, the
    effect against the normal. ``clump``: how many errors come together
    (``Baseline.error_clump``): k errors in clumps are as sure as k / clump alone."""
    reference = PRIOR_RATIO if learning else normal
    severe, clear = severe_ratio(reference), clear_ratio(reference)
    effect = severe if learning else min(severe, clear)  # No status below this ratio.
    log_p = math.log(rule.p_value)
    best: Finding | None = None
    surprise = allowance = -1.0
    for minutes, n, k in lookbacks:
        if n < rule.min_volume or k < (LEARNING_MIN_ERRORS if learning else MIN_ERRORS):
            continue
        ratio = k / n
        if ratio < effect:
            continue  # Cheapest first: no status however surprising.
        if surprise < 0:
            day = None if pinned is None or learning else pinned()
            if day is not None:
                surprise, wobble = day
            else:
                surprise = reference
            allowance = surprise * 1.5 + 0.002  # Day-to-day wobble of the normal ratio.
        alone, among = k / clump, n / clump
        if binomial_upper_log_p(alone, among, allowance) > log_p:
            continue  # Cheap first: not surprising even without the wobble.
        if wobble and wobbly_upper_log_p(alone, among, surprise + 0.002, wobble) > log_p:
            continue  # The learned wobble replaces the fixed allowance's guess.
        if wilson_lower(alone, among) >= severe:
            status = Status.MANY_PROBLEMS
        elif ratio >= clear and not learning:
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
    gap_seconds: float,
    expected: float,
    effective: float,
    level: tuple[float, float],
    threshold: float,
    when: Moment,
    weekend: tuple[float, float] = (1.0, -math.inf),
) -> Finding | None:
    """No call for ``gap_seconds`` while ``expected`` calls were (``effective``: in
    independent bursts; ``level``: the log of the operation's current level relative to
    the expectation and its variance, ``level_estimate``; ``weekend``: see
    ``holiday_mixture``); declared once the evidence passes ``threshold``."""
    mean, variance = level
    evidence = level_doubt(effective * math.exp(mean), variance)
    if holiday_mixture(evidence, *weekend) < threshold:
        return None
    return Finding(
        Status.NO_CALLS,
        f"0 calls in the last {wording.duration(gap_seconds)}; about "
        f"{wording.about(expected)} expected {wording.when(*when)}",
        {"calls": 0, "minutes": round(gap_seconds / 60)},
        {"calls": round(expected, 2)},
    )


def holiday_mixture(evidence: float, share: float, log_odds: float) -> float:
    """Silence evidence on a weekday that may be an unlisted holiday: −log of P(0) under
    the mixture of the weekday profile and the weekend one (expecting ``share`` of the
    calls), weighted by the odds that today is a holiday (``shared.weekend_evidence``).
    An office silent at 9:00 on a day that may be a holiday is doubted until the day's
    shops and sites have shown which profile it follows; on an ordinary weekday, the
    odds are soon tiny and the evidence is the weekday's."""
    if log_odds == -math.inf or share >= 1:
        return evidence
    holiday = -math.log1p(math.exp(-log_odds)) if log_odds > -700 else log_odds
    ordinary = -math.log1p(math.exp(log_odds)) if log_odds < 700 else -log_odds
    low, high = sorted((holiday - share * evidence, ordinary - evidence))
    return -(high + math.log1p(math.exp(low - high)))


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


def silence_weight(expected: float, dispersion: float) -> float:
    """Evidence (−log probability) of one empty window where ``expected`` calls were due,
    for traffic ``dispersion`` times burstier than Poisson. Bursty minutes (D up to 4):
    a negative binomial with that variance-to-mean ratio, P(0) = D^(−λ/(D−1)) (Poisson
    at D = 1). Beyond, the traffic comes in batches and each batch is one piece of
    evidence: the weight falls as 1/D, continuing the curve from D = 4."""
    if dispersion <= 1.0001:
        return expected
    if dispersion <= BATCHED:
        return expected * math.log(dispersion) / (dispersion - 1)
    return expected * BATCH_WEIGHT / dispersion


def level_doubt(evidence: float, spread: float) -> float:
    """Silence evidence once the hour's level itself is uncertain: with the level
    Gamma-distributed around the expectation (shape 1/spread, spread the variance of
    its log), P(0) = (1 + E·spread)^(−1/spread); it grows with the log of E, not E."""
    spread = min(max(spread, SPREAD_FLOOR), SPREAD_CEILING)
    return math.log1p(evidence * spread) / spread


def level_estimate(
    calls: float, expected: float, spread: float, dispersion: float
) -> tuple[float, float]:
    """(log level, its variance): how busy the operation is this hour relative to its
    expectation, from the ``calls`` seen so far in the hour where ``expected`` were due
    (empirical Bayes: a normal prior of variance ``spread``, the learned spread, on the
    log level; the log ratio observed with variance dispersion/calls). A day running at
    half its level has its silences judged against half the expectation; a busy hour
    pins the level, so it is doubted less. A level above normal is not believed to last
    (the mean stays at most 0): that would hurry a silence on the strength of a surge."""
    prior = min(max(spread, SPREAD_FLOOR), SPREAD_CEILING)
    if expected <= 0:
        return 0.0, prior
    sampling = max(dispersion, 1.0) / (calls + 0.5)
    precision = 1 / prior + 1 / sampling
    mean = math.log((calls + 0.5) / (expected + 0.5)) / sampling / precision
    return min(mean, 0.0), 1 / precision


def log_count_variance(calls: float, expected: float, dispersion: float) -> float:
    """The sampling variance of log(calls/expected) for counts ``dispersion`` times
    burstier than Poisson, taken at the geometric mean of the observed and expected
    level: where a tail event between them would have happened. At the expectation
    alone, the lower tail of small counts (1 call where 8 were due) is many times thinner
    than the Poisson one, and ordinary quiet hours read as drops."""
    return dispersion / math.sqrt((calls + 0.5) * (expected + 0.5))


def z_threshold(p_value: float, days: int) -> float:
    """How many spreads below normal a drop must be: the normal quantile of the rule's
    p-value shared by the three scales, widened while the baseline is young."""
    return -NormalDist().inv_cdf(p_value / len(SCALES)) * (1 + 1.0 / max(days, 1))


def hourly_volume(
    residuals: list[list[float]],
    down: list[float],
    peak: float,
    calls: int,
    expected: float,
    days: int,
    rule: Rule,
    when: Moment,
    offset: float = 0.0,
) -> Finding | None:
    """The hour that just closed, judged against the operation's own learned spread
    (docs/detection.md, "Volume"). ``residuals`` end with this hour's [start, log of
    observed over expected less the shared factor, Poisson variance]; ``expected`` is
    already scaled by the shared factor; ``offset``: where the operation's recent hours
    ran relative to the expectation (``Baseline.offset``): below it, a baseline that has
    not caught up with a decline, the drop is judged from there.

    A drop: the mean residual over 1, 3 or 8 consecutive hours is more than
    ``z_threshold`` spreads below zero, at most 60% of normal, and the last hour still
    below 80%, so a single low hour is not a drop but eight hours at 0.4x are within
    three. A flood: the hour is beyond both its recent biggest surge (three times) and
    three times the expectation (ten at most), and Poisson-significant, judged once the
    hour has been seen on two days (one day's hour is a single sample of a level that
    wobbles by a third, and a form's first campaign comes on top)."""
    if expected < MIN_HOUR_EXPECTED or days < 1:
        return None
    last = residuals[-1][1]
    limit = z_threshold(rule.p_value, days)
    base = min(offset, 0.0)
    if last - base <= DROP_LAST and calls > 0:  # Zero calls is the silence rule's to judge.
        for i, hours in enumerate(SCALES):
            span = consecutive(residuals, hours)
            if span is None:
                break
            mean, poisson = span
            mean -= base
            spread = math.sqrt(max(down[i], SPREAD_FLOOR) + poisson)
            if mean <= DROP_EFFECT and mean <= -limit * spread:
                return _volume_finding(
                    hours * 60, calls if hours == 1 else None, expected, mean, "drop", when
                )
        return None
    floods_at = min(FLOOD_CEILING, max(FLOOD_FLOOR, 3 * math.exp(peak)))
    if (
        days >= 2
        and last >= math.log(floods_at)
        and poisson_upper_log_p(calls, floods_at / 2 * expected) <= (math.log(rule.p_value))
    ):
        return _volume_finding(60, calls, expected, last, "flood", when)
    return None


def drop_evidence(
    run: list[float], residual: float, variance: float, spread: float, base: float
) -> list[float]:
    """One judged hour added to the sequential test for a sustained drop (a one-sided
    CUSUM): ``run`` is [evidence, hours, sum of residuals] since the evidence last
    started from zero; ``residual`` (log observed/expected less the shared factor) is
    taken from ``base`` (``hourly_volume``'s offset) in units of its spread (the learned
    hourly ``spread`` plus the Poisson ``variance``). Each hour adds how many spreads it
    fell below ``CUSUM_SLACK`` (at most ``CUSUM_CLIP``: one very low hour is the hourly
    test's to judge); an ordinary hour takes evidence away, so moderate falls hour after
    hour accumulate while a single low hour fades."""
    fall = (base - residual) / math.sqrt(max(spread, SPREAD_FLOOR) + variance)
    evidence = run[0] + min(fall, CUSUM_CLIP) - CUSUM_SLACK
    if evidence <= 0:
        return [0.0, 0.0, 0.0]
    return [evidence, run[1] + 1, run[2] + residual - base]


def sustained_drop(
    run: list[float],
    last: float,
    calls: int,
    expected: float,
    days: int,
    rule: Rule,
    when: Moment,
) -> Finding | None:
    """A drop found by the sequential test (``drop_evidence``): at least two hours of
    evidence past ``-log(p)/2`` (a CUSUM's false alarms come about once in 1/p hours,
    widened while the baseline is young), a mean fall to at most 60% of normal, and the
    ``last`` hour (from the base) still below 80%. An 8-hour drop to 0.4x is caught
    within about three hours; one hour, however low, never is (``hourly_volume``'s)."""
    evidence, hours, total = run
    if hours < 2 or days < 1 or expected < MIN_HOUR_EXPECTED or calls == 0:
        return None
    limit = -math.log(rule.p_value) / 2 * (1 + 1.0 / days)
    mean = total / hours
    if evidence < limit or mean > DROP_EFFECT or last > DROP_LAST:
        return None
    return _volume_finding(int(hours) * 60, None, expected, mean, "drop", when)


def _volume_finding(
    minutes: int, calls: int | None, expected: float, mean: float, kind: str, when: Moment
) -> Finding:
    ratio = math.exp(mean)
    if calls is not None:
        seen = f"{wording.calls(calls)} in the last {wording.duration(minutes * 60)}"
    else:
        seen = f"{ratio:.0%} of the usual volume over the last {wording.duration(minutes * 60)}"
    return Finding(
        Status.SOME_PROBLEMS,
        f"{seen}; about {wording.about(expected)} expected an hour {wording.when(*when)}"
        if kind == "drop"
        else f"{seen}; about {wording.about(expected)} expected {wording.when(*when)}",
        {"calls": calls, "minutes": minutes, "volume": kind, "ratio": round(ratio, 2)},
        {"calls": round(expected, 2)},
    )


def missed_runs(gap_seconds: float, period: int, jitter: int, window: int) -> Finding | None:
    """A periodic job (learned cadence) missed two runs: no run for two periods plus its
    jitter and a window's slack since the last one started."""
    if gap_seconds < 2 * period + jitter + window:
        return None
    return Finding(
        Status.NO_CALLS,
        f"no run for {wording.duration(gap_seconds)}; it runs about every "
        f"{wording.duration(period)}",
        {"calls": 0, "minutes": round(gap_seconds / 60)},
        {"every_minutes": round(period / 60)},
    )


def resend_loop(
    minutes: int, n: int, high: float, dispersion: float, days: int, rule: Rule, when: Moment
) -> Finding | None:
    """Ten times the high estimate within minutes (a resend loop), judged fast, without
    waiting for the hour: beyond any campaign, and Poisson-significant in bursts; judged
    once the hour has been seen on two days, as ``hourly_volume``'s floods."""
    if days < 2 or n < FLOOD_CEILING * high + 10:
        return None
    log_p = math.log(rule.p_value) * (1 + 1.5 / days)
    if poisson_upper_log_p(n / dispersion, max(high, 0.1) / dispersion) > log_p:
        return None
    return Finding(
        Status.SOME_PROBLEMS,
        f"{wording.calls(n)} in the last {wording.duration(minutes * 60)}; about "
        f"{wording.about(high)} expected {wording.when(*when)}",
        {"calls": n, "minutes": minutes, "volume": "flood"},
        {"calls": round(high, 2)},
    )


def resent_ids(
    minutes: int, calls: int, repeats: int, looped: int, normal: float, loop: int
) -> Finding | None:
    """A resend loop told by its ids (``detector.repeats``): over the last ``minutes``,
    ``looped`` of the messages sent an id for the ``loop``-th time or more, at least
    ``LOOP_MIN`` of them and a share of the calls ``LOOP_EFFECT`` above the operation's
    ``normal`` one (a producer that puts one placeholder id on every call has a normal
    near 1 and is never a loop). A retry or at-least-once duplicates send an id twice
    or three times: never a finding. ``many_problems`` when most calls repeat an id."""
    if looped < LOOP_MIN:
        return None
    total = max(calls, 1)
    share = min(1.0, looped / total)
    if share < normal + LOOP_EFFECT:
        return None
    repeated = min(repeats, total)
    return Finding(
        Status.MANY_PROBLEMS if 2 * repeated > total else Status.SOME_PROBLEMS,
        f"{repeated:,} of {wording.calls(total)} in the last {wording.duration(minutes * 60)} "
        f"repeated ids sent recently, {min(looped, repeated):,} of them ids already sent "
        f"{loop - 1} times or more (a resend loop?)",
        {"calls": total, "repeats": repeated, "looped": looped, "minutes": minutes},
        {"looped_share": round(normal, 4)},
    )
