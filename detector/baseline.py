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
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from detector import stored

HOURS = 24
ALPHA_FLOOR = 0.15  # After ~6 days a bucket is an EWMA with this weight per day.
ERROR_HALF_LIFE_CALLS = 5000.0
PRIOR_ERRORS, PRIOR_CALLS = 0.2, 20.0
LN4 = math.log(4)
LN2 = math.log(2)
PENDING_KEEP = 48  # Closed hours kept while the shared factor is not known yet.
RESIDUALS_KEEP = 8
SCALES = (1, 3, 8)  # Hours over which the volume's mean residual is judged.
PRIOR_DOWN = (0.1, 0.06, 0.04)  # A new operation's downside spread: ~30%, 25%, 20%.
VOLUME_ALPHA_FLOOR = 0.01  # After ~100 hours, an EWMA with a half-life of ~70 hours.
OFFSET_ALPHA = 1 / 24  # The recent level's offset follows about a day of hours.
SPREAD_MIN_EXPECTED = 20.0  # Hours expecting fewer calls do not teach the spread.
PEAK_DECAY = 0.998  # Per hour: a surge is forgotten over about two weeks.
RUN_QUIET = 180  # Seconds without a call before the next call starts a new run.
RUNS_KEEP = 12
MIN_PERIOD = 300
WINSOR = 3.0**2  # Squared spreads beyond which one hour's fall is clipped.
SPREAD_FLOOR = 0.005  # No operation is judged steadier than ~7% per hour beyond Poisson.
BATCHED = 4.0  # Burstier than this (variance over mean of minute counts): batches.
# ... if clumped beyond this too (the squared coefficient of variation of the minute
# rate, (variance/mean - 1)/mean): busy bursty traffic (a rate wobbling by 60% from
# minute to minute: 0.36) is burstier than Poisson in proportion to its rate, batches
# are clumped (200 calls in 3 minutes every 20: 5.6).
CLUMPED = 2.0
SIBLING_DECAY = 0.995  # Per hour: the siblings' regression is learned over ~200 hours.
# Until then it is shrunk towards 0 (no share): as if a day of hours had seen siblings
# move by 20% while the operation stayed put.
SIBLING_PRIOR = 24 * 0.04
# Log likelihood ratio beyond which a weekday follows the weekend profile: odds of 100 to
# 1 against the ~1 in 30 weekdays that are holidays (docs/detection.md, "Shared shifts").
HOLIDAY_EVIDENCE = math.log(100)
HOLIDAY_PRIOR = math.log(1 / 30)  # Log odds that a weekday is a holiday, before evidence.
WOBBLE_DECAY = 0.998  # Per hour: the error ratio's wobble is learned over a few weeks.
# Before it is learned, the ratio is taken to wobble by ~25% (real traffic does, by 20-40%
# from day to day), worth a day of an operation expecting 4 errors an hour.
WOBBLE_PRIOR, WOBBLE_PRIOR_WEIGHT = 0.25, 24 * 4.0**2
WOBBLE_MIN_ERRORS = 2.0  # Hours expecting fewer errors say too little about the wobble.
WOBBLE_CLIP = 4.0  # One hour says at most that its ratio was three times normal.
WOBBLE_CEILING = 0.7  # At most this spread of the log error ratio is allowed for.
DAY_MIN_ERRORS = 5.0  # Today's earlier hours pin its error ratio once they expected this many.
CLUMP_DECAY = 0.99  # Per hour: how errors clump is learned over about three days of hours.
# Before its own errors teach it, an operation's errors are taken to clump as the other
# operations' do (``shared.error_clump_pool``), worth 20 lone errors of its own: a rare
# form whose clients retry like the rest would otherwise alarm on its first clumps.
CLUMP_PRIOR_WEIGHT = 20.0
CLUMP_CEILING = 8.0  # At most this many errors are taken to come together (each hour too).


@lru_cache(maxsize=8192)
def local_hour(hour_start: int, zone: ZoneInfo) -> tuple[int, int]:
    """(weekday 0=Monday, hour of day) of an epoch hour in the operation's time zone."""
    local = datetime.fromtimestamp(hour_start, tz=UTC).astimezone(zone)
    return local.weekday(), local.hour


@dataclass(frozen=True, slots=True, eq=False)
class Calendar:
    """The time zone and the holidays: which baseline (weekday or weekend) an hour uses.
    A listed holiday is a weekend day, for learning and for judging. Compared by
    identity: it keys the hour caches on every window, so its hash must be cheap."""

    zone: ZoneInfo
    holidays: frozenset[date] = frozenset()


@lru_cache(maxsize=8192)
def hour_kind(hour_start: int, calendar: Calendar) -> tuple[int, int]:
    """(day kind 0=weekday 1=weekend or holiday, hour of day) of an epoch hour."""
    local = datetime.fromtimestamp(hour_start, tz=UTC).astimezone(calendar.zone)
    return int(local.weekday() >= 5 or local.date() in calendar.holidays), local.hour


@lru_cache(maxsize=8192)
def local_midnight(hour_start: int, zone: ZoneInfo) -> int:
    """The epoch second of the local midnight that starts an epoch hour's day."""
    local = datetime.fromtimestamp(hour_start, tz=UTC).astimezone(zone)
    return int(local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp())


@lru_cache(maxsize=8192)
def listed_holiday(hour_start: int, calendar: Calendar) -> bool:
    """Whether an epoch hour falls on a weekday listed as a holiday."""
    local = datetime.fromtimestamp(hour_start, tz=UTC).astimezone(calendar.zone)
    return local.weekday() < 5 and local.date() in calendar.holidays


@lru_cache(maxsize=8192)
def _buckets(hour_start: int, calendar: Calendar) -> tuple[tuple[int, int], ...]:
    """(day kind, hour) of the previous, this and the next epoch hour."""
    return tuple(hour_kind(h, calendar) for h in (hour_start - 3600, hour_start, hour_start + 3600))


@dataclass(slots=True)
class Baseline:
    hourly: list[list[float]] = field(default_factory=lambda: [[0.0] * HOURS, [0.0] * HOURS])
    seen: list[list[int]] = field(default_factory=lambda: [[0] * HOURS, [0] * HOURS])
    error_calls: float = 0.0
    error_errors: float = 0.0
    dispersion: float = 1.0
    clumping: float | None = None  # The minute rate's squared CV; None: not learned yet.
    burst_hours: int = 0  # Hours learned into ``dispersion``.
    hour_start: int | None = None
    hour_calls: int = 0
    hour_tainted: bool = False
    hour_errors: int = 0
    # How far the error ratio wobbles from hour to hour and day to day around its normal
    # (a variance of its log): [sum of (k - nq)² - nq(1 - q), sum of (nq)²] over closed
    # untainted hours, decaying; a method-of-moments estimate (``error_wobble``).
    wobble: list[float] = field(
        default_factory=lambda: [WOBBLE_PRIOR**2 * WOBBLE_PRIOR_WEIGHT, WOBBLE_PRIOR_WEIGHT]
    )
    # The last closed clock hour: [its start, calls, errors, tainted (0 or 1)], for the
    # two-hour error lookback (``Engine._two_hours``).
    last_hour: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    # Today's closed untainted hours but the last: [local midnight, calls, errors]. They
    # pin the day-to-day part of the error ratio's wobble (``day_ratio``).
    today: list[int] = field(default_factory=lambda: [0, 0, 0])
    # How far an hour's error ratio wobbles around its day's pinned ratio: [excess,
    # weight] as in ``wobble`` (``hour_wobble``).
    within_day: list[float] = field(
        default_factory=lambda: [WOBBLE_PRIOR**2 * WOBBLE_PRIOR_WEIGHT, WOBBLE_PRIOR_WEIGHT]
    )
    # How errors clump within an hour (a client retrying a failed call at once): [sum of
    # (k - nq)², sum of nq(1 - q)] over its windows, q the hour's own ratio, over closed
    # untainted hours, decaying (``error_clump``).
    error_clumps: list[float] = field(default_factory=lambda: [0.0, 0.0])
    clump_pool: float = 1.0  # How the other operations' errors clump: the prior.
    # Closed hours waiting for the business-wide factor: [hour start, calls, expected,
    # tainted, weekday bucket, weekend bucket (seen on fewer than two days: -1), days
    # behind each]; see ``Engine.settle`` and docs/detection.md, "Shared shifts".
    pending: list[list[float]] = field(default_factory=list)
    # The business-wide evidence that today, a weekday, follows the weekend profile (an
    # unlisted holiday): [local midnight, log likelihood ratio, last hour counted], the
    # same for every operation (``shared.weekend_evidence``, ``replay.settle_all``).
    holiday: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    # The last hours' residuals log(observed/expected) less the shared factor, with the
    # Poisson part of their variance: [hour start, residual, variance], oldest first.
    residuals: list[list[float]] = field(default_factory=list)
    # How far the volume normally falls below the expectation (beyond Poisson), as a
    # variance of the mean residual over 1, 3 and 8 hours: docs/detection.md, "Volume".
    down: list[float] = field(default_factory=lambda: list(PRIOR_DOWN))
    volume_hours: int = 0  # Hours learned into ``down``.
    # The recent hours' mean residual (about a day's EWMA): where the operation runs
    # relative to a baseline that lags behind growth or a step. ``down`` learns falls
    # below it, not below the expectation: an operation running 40% above a lagging
    # baseline would otherwise learn a tiny spread and read its ordinary low hours as drops.
    offset: float = 0.0
    # The sequential test for a sustained drop: [evidence, hours, sum of residuals]
    # (``rules.drop_evidence``).
    sustained: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    peak: float = LN2  # The biggest recent surge (log), decaying: floods must beat it.
    # Cadence: the gaps between the starts of the last runs (bursts after a quiet spell).
    run_gaps: list[int] = field(default_factory=list)
    run_spans: list[int] = field(default_factory=list)  # How long those runs lasted.
    last_run: int | None = None
    last_call_end: int | None = None
    # The regression of an hour's shift beyond the business-wide factor on the shift of
    # the other operations of its integration: [sum of x*y, sum of x*x], decaying
    # (``sibling_beta``, ``shared.sibling_shifts``).
    sibling: list[float] = field(default_factory=lambda: [0.0, 0.0])
    period: int = 0  # Learned from ``run_gaps``: 0 = not periodic.
    jitter: int = 0

    # Learning -----------------------------------------------------------------

    def learn(
        self, start: int, end: int, calls: int, errors: int, problem: bool, calendar: Calendar
    ) -> None:
        """Feed one closed window [start, end) (``problem``: the operation was in a
        problem status); the hour is closed with the window that ends it."""
        hour = start - start % 3600
        if self.hour_start is None and start != hour:
            # History began within this hour: a part of an hour is not its rate (an
            # office sync's last 23 minutes taught as its 17:00 hour made the next day's
            # 17:00 a flood). The hour counts from the next one.
            self._learn_calls(start, end, calls, errors, problem)
            return
        if self.hour_start is None:
            self.hour_start = hour
        elif hour != self.hour_start:  # A window that did not end its hour (restart, gap).
            self._close_hour(calendar)
            self.hour_start, self.hour_calls, self.hour_tainted = hour, 0, False
            self.hour_errors = 0
        self.hour_calls += calls
        self.hour_errors += errors
        self.hour_tainted = self.hour_tainted or problem
        self._learn_calls(start, end, calls, errors, problem)
        if end % 3600 == 0:
            self.end_hour(end, calendar)

    def end_hour(self, end: int, calendar: Calendar) -> None:
        """The window ending at ``end`` ended its hour: learn the hour, open the next
        (``detector.quiet`` too, after its own windows' learning)."""
        self._close_hour(calendar)
        self.hour_start, self.hour_calls, self.hour_tainted = end, 0, False
        self.hour_errors = 0

    def _learn_calls(self, start: int, end: int, calls: int, errors: int, problem: bool) -> None:
        """The error ratio and the runs, from every window."""
        if not problem and calls:
            decay = 0.5 ** (calls / ERROR_HALF_LIFE_CALLS)
            self.error_calls = self.error_calls * decay + calls
            self.error_errors = self.error_errors * decay + errors
        if calls:
            self._learn_cadence(start, end)

    def _close_hour(self, calendar: Calendar) -> None:
        assert self.hour_start is not None
        if not self.hour_tainted:
            self._learn_wobble(self.hour_calls, self.hour_errors)
        self._learn_day(calendar)
        kind, hour = self.kind(self.hour_start, calendar)
        seen = self.seen[kind][hour]
        old = self.hourly[kind][hour]
        value = float(self.hour_calls)
        if seen:
            weekday, weekend = (
                self.hourly[k][hour] if self.seen[k][hour] >= 2 else -1.0 for k in (0, 1)
            )
            days = [float(self.seen[0][hour]), float(self.seen[1][hour])]
            tainted = float(self.hour_tainted)
            self.pending.append([self.hour_start, value, old, tainted, weekday, weekend, *days])
            del self.pending[:-PENDING_KEEP]
        if self.holiday_like(self.hour_start, calendar) or (
            calendar.holidays and listed_holiday(self.hour_start, calendar)
        ):
            # Judged as a weekend day but not learned into it: a holiday is rarer than a
            # weekend and may differ from it (an office trickling on), and teaching the
            # weekend buckets that trickle makes an ordinary empty weekend look silent.
            return
        if self.hour_tainted and seen:
            # An hour spent in a problem status moves the baseline only a little, so an
            # incident cannot teach it, and a wrong alarm cannot freeze it either.
            value = min(max(value, 0.5 * old), 2 * old + 10)
        elif seen >= 2:
            # A surge (a campaign) teaches the bucket at most 1.5 times its value: an
            # inflated bucket would make every normal hour look like a fall.
            value = min(value, 1.5 * old + 10)
        alpha = max(1.0 / (seen + 1), ALPHA_FLOOR)
        self.hourly[kind][hour] = old + alpha * (value - old)
        self.seen[kind][hour] = seen + 1

    def _learn_wobble(self, calls: int, errors: int) -> None:
        """Learn one closed hour's error count against the binomial around the normal
        ratio: the excess of its squared deviation over the binomial variance, in units
        of the expected errors squared, is the variance of the ratio's own wobble. Each
        hour's say is clipped (a ratio three times normal), so a burst the error rule
        did not catch cannot teach that bursts are normal."""
        learn_wobble(self.wobble, calls, errors, self.error_ratio, 0.0, self.error_clump)

    def _learn_day(self, calendar: Calendar) -> None:
        """Learn the closing hour's wobble around its day's pinned ratio, fold the hour
        before it into today (the newest hour stays out: the two-hour error lookback
        judges it), and start a new day at local midnight."""
        assert self.hour_start is not None
        pinned = self.day_ratio()
        if pinned is not None and not self.hour_tainted:
            ratio, doubt = pinned
            learn_wobble(
                self.within_day, self.hour_calls, self.hour_errors, ratio, doubt, self.error_clump
            )
        start, calls, errors, tainted = self.last_hour
        if not tainted and start >= self.today[0]:
            self.today[1] += calls
            self.today[2] += errors
        tainted = int(self.hour_tainted)
        self.last_hour = [self.hour_start, self.hour_calls, self.hour_errors, tainted]
        midnight = local_midnight(self.hour_start + 3600, calendar.zone)
        if midnight != self.today[0]:
            self.today = [midnight, 0, 0]

    def day_ratio(self) -> tuple[float, float] | None:
        """Today's error ratio from its earlier hours, empirical Bayes: the log of its
        ratio to the normal, shrunk by the learned wobble (an upper bound of the day's
        part); (ratio, variance of its log), or None while they expected too few errors."""
        _, calls, errors = self.today
        normal = self.error_ratio
        expected = calls * normal
        if expected < DAY_MIN_ERRORS:
            return None
        prior = max(self.error_wobble, 0.05) ** 2
        noise = self.error_clump / math.sqrt((errors + 0.5) * (expected + 0.5))
        shift = math.log((errors + 0.5) / (expected + 0.5)) * prior / (prior + noise)
        return normal * math.exp(shift), prior * noise / (prior + noise)

    def pinned_ratio(self) -> tuple[float, float] | None:
        """Today's pinned error ratio and the spread left around it: the wobble within a
        day and the pin's own doubt (``rules.error_spike``)."""
        day = self.day_ratio()
        if day is None:
            return None
        return day[0], math.hypot(self.hour_wobble, math.sqrt(day[1]))

    @property
    def hour_wobble(self) -> float:
        """The learned spread of an hour's error ratio around its day's."""
        return spread_of(self.within_day)

    @property
    def error_clump(self) -> float:
        """How many errors come together, weighted by errors: the variance of an error
        count over the binomial's (its design effect). 1 when they come one by one;
        about 3.4 when half the failures are retried three times at once."""
        spread, variance = self.error_clumps
        prior = CLUMP_PRIOR_WEIGHT
        return min(max((spread + prior * self.clump_pool) / (variance + prior), 1.0), CLUMP_CEILING)

    @property
    def error_wobble(self) -> float:
        """The learned spread (standard deviation of its log) of the error ratio."""
        return spread_of(self.wobble)

    def learn_windows(self, calls: list[int], errors: list[int]) -> None:
        """Learn from the windows of the hour that just closed how bursty its traffic is
        and, unless the hour spent time in a problem status, how its errors clump."""
        self.learn_burstiness(calls)
        if not self.hour_tainted:
            self._learn_clumps(calls, errors)

    def _learn_clumps(self, calls: list[int], errors: list[int]) -> None:
        """Errors that come together (each failure retried at once) make an error count
        vary more than the binomial says: learn by how much, against the hour's own ratio
        (its wobble from hour to hour is ``wobble``'s), each hour's say clipped."""
        total, failed = sum(calls), sum(errors)
        if not failed or failed >= total:
            return
        q = failed / total
        variance = total * q * (1 - q)
        spread = sum((k - n * q) ** 2 for n, k in zip(calls, errors, strict=True))
        sums = self.error_clumps
        sums[0] = sums[0] * CLUMP_DECAY + min(spread, CLUMP_CEILING * variance)
        sums[1] = sums[1] * CLUMP_DECAY + variance

    def learn_burstiness(self, minute_counts: list[int]) -> None:
        """Learn how bursty the traffic is from one closed hour of window counts: their
        variance over their mean, against a steady rate over that hour (1 for Poisson,
        ~60 for a batch of 200 calls in three minutes). A level shift between hours does
        not count, only clumping within the hour; each hour moves the estimate at most
        by a factor of four, so one odd hour cannot rewrite it. The first hour is the
        estimate: Poisson is only a prior, and a nightly job's first run capped at four
        would be judged as steady traffic on its second night (a silence before a run
        that comes late, then its batch a flood)."""
        total = sum(minute_counts)
        if total < 10:
            return
        mean = total / len(minute_counts)
        ratio = sum((x - mean) ** 2 for x in minute_counts) / mean / len(minute_counts)
        self.burst_hours += 1
        if self.burst_hours == 1:
            self.dispersion = max(ratio, 1.0)
        else:
            step = 0.5 * (math.log(max(ratio, 1.0)) - math.log(self.dispersion))
            self.dispersion = math.exp(math.log(self.dispersion) + max(-LN4, min(LN4, step)))
        clumping = max(ratio - 1.0, 0.0) / mean
        old = clumping if self.clumping is None else self.clumping
        self.clumping = old + 0.5 * (clumping - old)

    def learn_volume(
        self, hour_start: int, residual: float, variance: float, expected: float = math.inf
    ) -> None:
        """Learn one untainted hour's residual (log observed/expected less the shared
        factor) into the downside spreads at 1, 3 and 8 hours and the surge peak.
        Only falls below the recent level teach ``down`` (a semi-variance): campaigns and
        viral hours must not make drops look normal. An hour ``expected`` to see fewer
        than ``SPREAD_MIN_EXPECTED`` calls teaches neither spread nor level: its log count
        is mostly Poisson noise, skewed low (2 calls where 9 were due), and night hours
        would teach a shop a spread twice its own."""
        self.residuals.append([hour_start, residual, variance])
        del self.residuals[:-RESIDUALS_KEEP]
        surge = residual - 2 * math.sqrt(variance)  # Sure to be at least this high.
        self.peak = max(surge, LN2 + (self.peak - LN2) * PEAK_DECAY)
        if expected < SPREAD_MIN_EXPECTED:
            return
        alpha = max(1.0 / (self.volume_hours + 5), VOLUME_ALPHA_FLOOR)
        offset = self.offset
        for i, hours in enumerate(SCALES):
            span = consecutive(self.residuals, hours)
            if span is None:
                continue
            mean, poisson = span
            spread = max(self.down[i], SPREAD_FLOOR) + poisson
            below = min(mean - offset, 0.0) ** 2
            # Winsorised at 3 spreads: a drop being judged must not teach that drops
            # are normal (the test fires near four).
            target = min(2 * below, WINSOR * spread) - poisson
            self.down[i] = max(0.0, self.down[i] + alpha * (target - self.down[i]))
        self.volume_hours += 1
        # Clipped at 1.5 spreads (a Huber mean): a campaign or an unnoticed drop moves it
        # as little as an ordinary hour above or below.
        step = 1.5 * math.sqrt(max(self.down[0], SPREAD_FLOOR) + variance)
        self.offset += max(alpha, OFFSET_ALPHA) * max(-step, min(step, residual - offset))

    def _learn_cadence(self, start: int, end: int) -> None:
        """A run starts with calls after a quiet spell; remember the gaps between runs."""
        if self.last_call_end is None or start - self.last_call_end >= RUN_QUIET:
            if self.last_run is not None and self.last_call_end is not None:
                self.run_gaps.append(start - self.last_run)
                self.run_spans.append(self.last_call_end - self.last_run)
                del self.run_gaps[:-RUNS_KEEP], self.run_spans[:-RUNS_KEEP]
                self.period, self.jitter = cadence(self.run_gaps, self.run_spans)
            self.last_run = start
        self.last_call_end = end

    def placed(self, days: int) -> bool:
        """Whether an hour bucket seen on ``days`` days says when this operation's calls
        come: one day does for steady traffic, not for batches (nor before an hour has
        shown how bursty it is): a nightly run seen once, 20 minutes later the next
        night, is neither a silence before it nor a flood in it."""
        return days >= 2 or (days == 1 and self.burst_hours > 0 and not self.machine)

    def learn_sibling(self, x: float, y: float) -> None:
        """Learn one untainted hour: the siblings' shift ``x``, this operation's ``y``."""
        xy, xx = self.sibling
        self.sibling = [xy * SIBLING_DECAY + x * y, xx * SIBLING_DECAY + x * x]

    @property
    def sibling_beta(self) -> float:
        """How much of its siblings' shift the operation shares (a least-squares slope
        between 0 and 1, shrunk towards 0 while few hours taught it): the operations of
        one integration share a backend, a client or a page and move together beyond
        the business, each by its own share."""
        xy, xx = self.sibling
        return max(0.0, min(1.0, xy / (xx + SIBLING_PRIOR)))

    @property
    def machine(self) -> bool:
        """A scheduled job or a batched producer: it runs on its own clock, not the
        business's, so it is not judged by volume (a batch slipping across an hour
        boundary doubles one hour and empties the next). Busy traffic with bursty
        minutes is not a batch: its variance over mean grows with its rate (a mailer at
        17 calls a minute wobbling by 60%: 7), its clumping does not."""
        clumped = self.clumping is None or self.clumping > CLUMPED
        return bool(self.period) or (self.dispersion > BATCHED and clumped)

    @property
    def votes(self) -> bool:
        """Whether the operation votes for the business-wide factor: not a scheduled
        job, and not bursty beyond ``BATCHED`` (a batch's hours follow its own clock;
        a busy bursty one, judged by volume, does not vote either: measured, its votes
        moved the factor enough to hide another operation's 8-hour drop)."""
        return not self.period and self.dispersion <= BATCHED

    # Expectations -------------------------------------------------------------

    def holiday_like(self, hour_start: int, calendar: Calendar) -> bool:
        """Whether the hour's day is a weekday the business as a whole spends on its
        weekend profile (an unlisted holiday), by the evidence so far."""
        day, evidence, _ = self.holiday
        return (
            evidence > HOLIDAY_EVIDENCE
            and local_midnight(hour_start, calendar.zone) == day
            and hour_kind(hour_start, calendar)[0] == 0
        )

    def kind(self, hour_start: int, calendar: Calendar) -> tuple[int, int]:
        """(day kind, hour of day) of an epoch hour, an inferred holiday a weekend day."""
        kind, hour = hour_kind(hour_start, calendar)
        return (1, hour) if kind == 0 and self.holiday_like(hour_start, calendar) else (kind, hour)

    def rate(
        self, start: int, window: int, calendar: Calendar, inferred: bool = True
    ) -> tuple[float, float, int]:
        """(low, high, days): calls expected in the window starting at ``start``, and the
        days of history behind that (0 = not known yet).

        Two estimates: the window's own hour bucket, and an interpolation between the
        centres of the neighbouring buckets. The interpolation follows smooth daily
        curves; the bucket keeps sharp edges (a shop closing at 22:00). ``low`` is the
        smaller, used where overestimating would raise false alarms (silence, drops);
        ``high`` the larger, used for floods: on a day inferred to be a holiday, the
        weekday's too, so weekday traffic on such a day is never a flood.
        ``inferred``: False judges by the calendar alone."""
        hour_start = start - start % 3600
        if (
            inferred
            and self.holiday[1] > HOLIDAY_EVIDENCE
            and self.holiday_like(hour_start, calendar)
        ):
            _, high, _ = self.rate(start, window, calendar, inferred=False)
            before, (own_kind, own_hour), after = (
                self.kind(h, calendar) for h in (hour_start - 3600, hour_start, hour_start + 3600)
            )
        else:
            high = 0.0
            before, (own_kind, own_hour), after = _buckets(hour_start, calendar)
        hourly, seen = self.hourly, self.seen
        own = hourly[own_kind][own_hour]
        # Position of the window's middle between the centres of two hour buckets.
        frac = (start - hour_start + window / 2) / 3600 - 0.5
        # Spelt out (no tuples, no min/max calls, same arithmetic): once per window.
        if frac >= 0:
            k1, h1 = own_kind, own_hour
            k2, h2 = after
        else:
            k1, h1 = before
            k2, h2 = own_kind, own_hour
            frac += 1
        smooth = (1 - frac) * hourly[k1][h1] + frac * hourly[k2][h2]
        days = seen[k1][h1]
        if seen[k2][h2] < days:
            days = seen[k2][h2]
        if seen[own_kind][own_hour] < days:
            days = seen[own_kind][own_hour]
        scale = window / 3600
        top = own * scale
        if smooth * scale > top:
            top = smooth * scale
        if high > top:
            top = high
        return (smooth if smooth < own else own) * scale, top, days

    def calls_per_day(self, start: int, calendar: Calendar) -> float:
        """Calls expected over a whole day of the same kind (weekday or weekend)."""
        kind, _ = self.kind(start - start % 3600, calendar)
        return sum(self.hourly[kind])

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
            data["hourly"] = [list(map(float, row)) for row in _rows(data["hourly"], "hourly")]
        if "seen" in data:
            data["seen"] = [
                list(stored.counts(row, "seen", HOURS)) for row in _rows(data["seen"], "seen")
            ]
        data.setdefault("burst_hours", 1)  # Stored before it was counted: learned.
        baseline = cls(**data)
        for row in baseline.hourly:
            stored.numbers(row, "hourly", HOURS)
        stored.number(baseline.error_calls, "error_calls")
        stored.number(baseline.error_errors, "error_errors")
        if not stored.number(baseline.dispersion, "dispersion") > 0:
            raise ValueError("dispersion: must be above 0")
        if baseline.clumping is not None:
            stored.number(baseline.clumping, "clumping")
        stored.numbers(baseline.holiday, "holiday", 3, -math.inf)
        stored.number(baseline.offset, "offset", -math.inf)
        stored.numbers(baseline.wobble, "wobble", 2, -math.inf)
        stored.numbers(baseline.sustained, "sustained", 3, -math.inf)
        stored.numbers(baseline.sibling, "sibling", 2, -math.inf)
        stored.count(baseline.hour_errors, "hour_errors")
        stored.count(baseline.burst_hours, "burst_hours")
        stored.counts(baseline.last_hour, "last_hour", 4)
        stored.counts(baseline.today, "today", 3)
        stored.numbers(baseline.within_day, "within_day", 2, -math.inf)
        stored.numbers(baseline.error_clumps, "error_clumps", 2)
        stored.number(baseline.clump_pool, "clump_pool")
        if baseline.hour_start is not None:
            stored.count(baseline.hour_start, "hour_start")
        stored.count(baseline.hour_calls, "hour_calls")
        if type(baseline.hour_tainted) is not bool:
            raise ValueError("hour_tainted: expected true or false")
        return baseline


def learn_wobble(
    sums: list[float], calls: int, errors: int, ratio: float, doubt: float, clump: float
) -> None:
    """Add one closed hour to a wobble's [excess, weight]: its squared deviation from
    ``ratio`` beyond the binomial variance (times ``clump``, how errors come together;
    and ``doubt``, the variance of the log of an estimated ratio), in units of the
    expected errors squared; each hour's say clipped."""
    expected = calls * ratio
    if expected < WOBBLE_MIN_ERRORS:
        return
    binomial = clump * expected * (1 - ratio) + doubt * expected**2
    excess = min((errors - expected) ** 2 - binomial, WOBBLE_CLIP * expected**2)
    sums[0] = sums[0] * WOBBLE_DECAY + excess
    sums[1] = sums[1] * WOBBLE_DECAY + expected**2


def spread_of(sums: list[float]) -> float:
    """A wobble's spread (standard deviation of the log ratio) from its [excess, weight]."""
    excess, weight = sums
    if weight <= 0 or excess <= 0:
        return 0.0
    return min(math.sqrt(excess / weight), WOBBLE_CEILING)


def _rows(value: Any, what: str) -> list[Any]:
    """The two day kinds' rows of a stored 2 x 24 table."""
    if type(value) is not list or len(value) != 2 or not all(type(r) is list for r in value):
        raise ValueError(f"{what}: expected two rows of {HOURS} hours")
    return value


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


def consecutive(residuals: list[list[float]], hours: int) -> tuple[float, float] | None:
    """(mean residual, Poisson variance of that mean) over the last ``hours`` entries if
    they are consecutive hours, else None."""
    if len(residuals) < hours:
        return None
    span = residuals[-hours:]
    if span[-1][0] - span[0][0] != 3600 * (hours - 1):
        return None
    mean = sum(r[1] for r in span) / hours
    return mean, sum(r[2] for r in span) / (hours * hours)


def cadence(gaps: list[int], spans: list[int]) -> tuple[int, int]:
    """(period, jitter) in seconds when short runs come like clockwork, else (0, 0):
    enough runs, each a burst shorter than a quarter of the period (a shop open all
    day once a day is not a job), the typical gap within a minute (or 5%) of the
    median, and none off by more than a third of it; the jitter is the largest
    deviation seen. A Poisson trickle at night has runs too, but their gaps scatter by
    half their mean."""
    if len(gaps) < RUNS_KEEP:
        return 0, 0
    ordered = sorted(gaps)
    period = ordered[len(ordered) // 2]
    deviations = sorted(abs(g - period) for g in gaps)
    typical, jitter = deviations[len(deviations) // 2], deviations[-1]
    if period < MIN_PERIOD or max(spans) > period / 4:
        return 0, 0
    if typical > max(0.05 * period, 60) or jitter > period / 3:
        return 0, 0
    return period, jitter
