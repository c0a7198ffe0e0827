"""Quiet windows judged in one go: most windows of most operations change nothing but
running sums. ``Engine.advance`` hands a run of an operation's windows within one clock
hour to ``quiet_windows``, which goes through them in one tight loop while no rule can
judge them (an ``ok`` operation with no finding held; the error lookbacks judged by
``Engine._errors`` itself once one has the least ratio that is a finding; silence
evidence weighed by ``Engine._silence`` itself; no flood in sight; no lifecycle
snapshot, no repeated ids), keeping the state's sums in local variables with the same
floating-point operations in the same order as ``Engine._step``, and stores them once;
after an hour's last window it closes the hour as a step does. So a step's per-window
cost (attribute lookups, calls, the rules' early exits) is paid only for the windows
that may matter, and the live worker (stepping a window or two at a time) and replay
(an hour at a time) keep deciding the same: tests/unit/test_quiet.py holds both ways to
the same states and changes. The first window the loop cannot vouch for takes a step.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from detector import rules
from detector.baseline import (
    BATCHED,
    ERROR_HALF_LIFE_CALLS,
    HOLIDAY_EVIDENCE,
    PRIOR_CALLS,
    PRIOR_ERRORS,
    RUN_QUIET,
    Baseline,
    _buckets,
    local_hour,
)
from detector.lifecycle.tracker import Snapshot
from detector.opconfig import Rule
from detector.rules import MIN_ERRORS
from detector.state import OperationState
from detector.status import Status
from detector.windows import WindowCounts

if TYPE_CHECKING:
    from detector.engine import Engine

# Fewer windows are stepped: setting the loop up costs about a step, and the live
# evaluator, a window or two at a time, runs as before.
MIN_RUN = 3


def quiet_windows(
    engine: Engine,
    st: OperationState,
    rule: Rule,
    start: int,
    until: int,
    windows: Mapping[int, WindowCounts],
    snapshots: Mapping[int, Snapshot] | None,
) -> int:
    """Judge the quiet windows from the one starting at ``start`` (up to ``until`` and the
    hour's end) as ``Engine._step`` would: how many (0: none, step it)."""
    from detector import engine as steps  # Imported by it: its constants, at run time.

    size, base = engine.window, st.baseline
    hour = start - start % 3600
    last = min(until, hour + 3600)  # The last window's end.
    m = (last - start) // size
    if (
        m < MIN_RUN
        or st.status is not Status.OK
        or st.volume is not None
        or st.recent_repeats
        or rule.mute
        or rule.schedule is not None
        or rule.expect_every is not None
        or 3600 % size
        or base.hour_start != hour
        or len(st.recent_calls) != engine.keep
        or last - size - (st.last_call_boundary or st.first_boundary) >= steps.DORMANT_SECONDS
        or (base.holiday[1] > HOLIDAY_EVIDENCE and base.holiday_like(hour, engine.calendar))
    ):
        return 0
    if snapshots:
        m = min([m, *((b - start) // size - 1 for b in snapshots if start < b <= last)])
    # ``Baseline.rate``'s figures for this hour (no holiday inferred): the buckets the
    # windows before and after the hour's centre are interpolated between.
    hourly, seen = base.hourly, base.seen
    (bk, bh), (k, h), (ak, ah) = _buckets(hour, engine.calendar)
    own, before, after = hourly[k][h], hourly[bk][bh], hourly[ak][ah]
    early_days, late_days = min(seen[bk][bh], seen[k][h]), min(seen[k][h], seen[ak][ah])
    fracs, rests, centre = _fractions(size)
    scale = size / 3600
    top = own * scale
    positive = top >= 0.0
    dispersion = base.dispersion
    if dispersion <= 1.0001:  # ``rules.silence_weight``: times 1.0, over 1.0 is exact.
        weigh, divide = 1.0, 1.0
    elif dispersion <= BATCHED:
        weigh, divide = math.log(dispersion), dispersion - 1
    else:
        weigh, divide = rules.BATCH_WEIGHT, dispersion
    # The rings, extended as the windows are pushed (``OperationState.push``).
    keep, quarter, five = engine.keep, engine.quarter, engine.five
    rc, re_ = st.recent_calls[:], st.recent_errors[:]
    rx, rh = st.recent_expected[:], st.recent_high[:]
    h0, h1, h2, h3 = st.hour_sums
    q0, q1, q2, q3 = st.quarter_sums
    f0, f1 = st.five_sums
    error_calls, error_errors = base.error_calls, base.error_errors
    normal = (error_errors + PRIOR_ERRORS) / (error_calls + PRIOR_CALLS)
    silent, effective, known = st.silent_expected, st.silent_effective, st.known
    looped, learn_looped = st.looped_normal, steps.LOOPED_LEARNED
    gap, total, ended = st.schedule_gap, 0, base.last_call_end
    hour_calls, hour_errors = base.hour_calls, base.hour_errors
    two_hours = base.last_hour[0] == hour - 3600
    last_calls, last_errors = base.last_hour[1], base.last_hour[2]
    period, machine, min_volume = base.period, base.machine, rule.min_volume
    missed = None  # When a learned cadence is missed (``rules.missed_runs``).
    if period and base.last_run is not None:
        missed = base.last_run + 2 * period + base.jitter + size
    level0, level1 = (st.level[0], st.level[1]) if st.level[2] == hour else (0.0, 0.0)
    coded: list[list[Any]] = []
    thresholds: dict[int, float] = {}  # By days of history: ``Engine._silence_threshold``.
    find, first, done = windows.get, (start - hour) // size, 0
    for i in range(m):
        window = start + i * size
        end = window + size
        counts = find(window)
        if counts is None:
            n = errors = 0
        else:
            n, errors = counts.calls, counts.errors
            if errors > n or counts.repeats or counts.looped:
                break  # The lifecycle's counts merged in, or repeated ids: a step's.
        j = first + i
        frac = fracs[j]
        if j < centre:
            smooth, days = rests[j] * before + frac * own, early_days
        else:
            smooth, days = rests[j] * own + frac * after, late_days
        expected = (smooth if smooth < own else own) * scale
        high = smooth * scale
        if not high > top:
            high = top
        if not positive and high < 0.0:
            high = 0.0
        # The sums after the push.
        iq, i5 = i + keep - quarter, i + keep - five
        hour_n, hour_k = h0 + n - rc[i], h1 + errors - re_[i]
        quarter_n, quarter_k = q0 + n - rc[iq], q1 + errors - re_[iq]
        five_n, five_k = f0 + n - rc[i5], f1 + errors - re_[i5]
        quarter_high = q3 + high - rh[iq]
        now_known = known + 1 if days else 0
        if not n:
            if counts is not None and (counts.errors or counts.error_codes):
                break
            weighed = effective + expected * weigh / divide
            if missed is not None:
                if end >= missed:
                    break  # A learned cadence missed (``Engine._silence``).
            elif weighed >= steps.SILENCE_FLOOR:
                need = thresholds.get(days)
                if need is None:
                    need = thresholds[days] = _hair_below(engine, base, rule, hour, days)
                if weighed >= need:
                    # Silence evidence to weigh: ``Engine._silence`` on the state as a
                    # step would have it by now (what it reads), put back after.
                    saved = st.silent_expected, st.silent_effective, st.level, st.last_call_boundary
                    st.silent_expected, st.silent_effective = silent + expected, weighed
                    st.level = [level0, level1 + expected, hour]
                    if total:
                        st.last_call_boundary = ended
                    when = local_hour(hour, engine.calendar.zone)
                    found = engine._silence(st, rule, window, days, True, when)
                    st.silent_expected, st.silent_effective, st.level, st.last_call_boundary = saved
                    if found is not None:
                        break
        if hour_k >= MIN_ERRORS:  # ``rules.error_spike``'s cheapest test, each lookback.
            # min(severe_ratio, clear_ratio), spelt out: the same floats, no calls.
            severe, clear, most = normal + 0.4, 2 * normal, normal + 0.05
            if not severe > 0.5:
                severe = 0.5
            if most > clear:
                clear = most
            effect = severe if not clear < severe else clear
            if (
                (errors >= MIN_ERRORS and n >= min_volume and errors / n >= effect)
                or (five_k >= MIN_ERRORS and five_n >= min_volume and five_k / five_n >= effect)
                or _reaches(int(quarter_n), int(quarter_k), min_volume, effect)
                or _reaches(int(hour_n), int(hour_k), min_volume, effect)
                or (
                    two_hours
                    and _reaches(
                        last_calls + hour_calls + n, last_errors + hour_errors + errors,
                        min_volume, effect,
                    )
                )
            ):  # fmt: skip
                # Some lookback has the effect: ``Engine._errors`` itself judges, on the
                # error ratio learned so far (what it reads), as a step would.
                base.error_calls, base.error_errors = error_calls, error_errors
                found = engine._errors(
                    st, rule, window, False, (n, errors), (five_n, five_k, quarter_n, quarter_k),
                    (hour_n, hour_k, hour_calls, hour_errors),
                )  # fmt: skip
                if found is not None:
                    break
        if (
            not machine
            and now_known >= quarter
            and days >= 2
            and not int(quarter_n) < rules.FLOOD_CEILING * quarter_high + 10
        ):
            break  # A possible resend loop (``rules.resend_loop``).
        # Nothing to judge: the window is pushed and learned.
        h0, h1, h2, h3 = hour_n, hour_k, h2 + expected - rx[i], h3 + high - rh[i]
        q0, q1, q2, q3 = quarter_n, quarter_k, q2 + expected - rx[iq], quarter_high
        f0, f1 = five_n, five_k
        rc.append(n)
        re_.append(errors)
        rx.append(expected)
        rh.append(high)
        level0 += n
        level1 += expected
        known = now_known
        total += n
        hour_calls += n
        hour_errors += errors
        if n:
            decay = 0.5 ** (n / ERROR_HALF_LIFE_CALLS)
            error_calls = error_calls * decay + n
            error_errors = error_errors * decay + errors
            normal = (error_errors + PRIOR_ERRORS) / (error_calls + PRIOR_CALLS)
            silent = effective = 0.0
            gap = 0
            if looped:  # ``Engine._step``: no looped calls, the normal share decays.
                looped += (min(1.0, 0 / n) - looped) * learn_looped
            if counts.error_codes:  # type: ignore[union-attr]
                coded.append([end, dict(counts.error_codes)])  # type: ignore[union-attr]
            if ended is None or window - ended >= RUN_QUIET:  # A run starts: learn its cadence.
                base.last_call_end = ended
                base._learn_cadence(window, end)
                period, machine = base.period, base.machine
                missed = None
                if period and base.last_run is not None:
                    missed = base.last_run + 2 * period + base.jitter + size
            ended = end
        else:
            silent += expected
            effective = weighed
            gap += size
        done += 1
    if done:
        end = start + done * size
        st.recent_calls, st.recent_errors = rc[-keep:], re_[-keep:]
        st.recent_expected, st.recent_high = rx[-keep:], rh[-keep:]
        st.hour_sums[:] = h0, h1, h2, h3
        st.quarter_sums[:] = q0, q1, q2, q3
        st.five_sums[:] = f0, f1
        st.level[0], st.level[1] = level0, level1
        if st.level[2] != hour:
            st.level[2] = hour
        st.silent_expected, st.silent_effective, st.known = silent, effective, known
        st.looped_normal = looped
        st.schedule_gap, st.total_calls = gap, st.total_calls + total
        st.recent_codes.extend(coded)
        if st.recent_codes and st.recent_codes[0][0] <= end - 3600:
            st.recent_codes = [entry for entry in st.recent_codes if entry[0] > end - 3600]
        if total:
            st.last_call_boundary = base.last_call_end = ended
        base.error_calls, base.error_errors = error_calls, error_errors
        base.hour_calls, base.hour_errors = hour_calls, hour_errors
        st.last_boundary = end
        st.calm += done
        if end % 3600 == 0:  # The hour's last window: as ``Engine._step`` closes the hour.
            if len(st.recent_calls) == keep:
                base.learn_windows(st.recent_calls, st.recent_errors)
            base.end_hour(end, engine.calendar)
    return done


def _hair_below(engine: Engine, base: Baseline, rule: Rule, hour: int, days: int) -> float:
    """A hair below the silence threshold of a window of ``hour`` with ``days`` of
    history (none: ``Engine._silence`` finds nothing): ``rules.silence`` weighs at most
    the evidence given it, but for rounding."""
    if not days:
        return math.inf
    return engine._silence_threshold(base, rule, hour, days) * (1 - 1e-9)


def _reaches(calls: int, errors: int, min_volume: int, effect: float) -> bool:
    """Whether a lookback passes ``rules.error_spike``'s first tests (not learning)."""
    return errors >= MIN_ERRORS and calls >= min_volume and errors / calls >= effect


@lru_cache(maxsize=16)
def _fractions(size: int) -> tuple[list[float], list[float], int]:
    """For each window of an hour, as ``Baseline.rate`` has them: where its middle lies
    between two hour centres, one less that, and how many windows lie before the
    hour's centre (interpolated with the hour before)."""
    fracs = [(offset + size / 2) / 3600 - 0.5 for offset in range(0, 3600, size)]
    centre = sum(frac < 0 for frac in fracs)
    fracs = [frac + 1 if frac < 0 else frac for frac in fracs]
    return fracs, [1 - frac for frac in fracs], centre
