"""The detection state machine, shared by the live worker and offline replay.

``Engine.advance`` judges an operation's closed windows one boundary at a time, in
order, missing windows counting as zero calls (silence has no events). Each window is
judged before the baseline learns from it; a problem status is entered on strong
evidence and left on clear recovery, so noise does not flap it (docs/detection.md,
"Hysteresis"). A week after its last call an operation is dormant and its empty windows
are skipped in one step, so catching up over any gap (a call stamped 1970, months of
silence) costs at most a week of steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from detector import repeats, rules, wording
from detector.baseline import (
    HOLIDAY_PRIOR,
    SPREAD_MIN_EXPECTED,
    Baseline,
    Calendar,
    hour_kind,
    local_hour,
    local_midnight,
)
from detector.lifecycle import findings as lifecycle
from detector.lifecycle.tracker import Snapshot
from detector.opconfig import DetectionConfig, Rule
from detector.quiet import quiet_windows
from detector.rules import Finding
from detector.state import OperationState
from detector.status import PROBLEMS, Status, StatusChange, change_id
from detector.windows import WindowCounts

# Error ratios are judged over the newest window and the last 5, 15 and 60 minutes.
HOLD_WINDOWS = 5  # A batched sync's all-failing minutes can take five to hold 5 calls.
SILENCE_FLOOR = 4.0  # Below every silence threshold: no need to compute it.
RECOVER_MINUTES = 5
RESUMED_SHARE = 0.5
WARMUP_SECONDS = 2 * 3600
WARMUP_CALLS = 30
DORMANT_SECONDS = 7 * 86400  # Longer than any normal gap: weekends, holidays, weekly runs.
# A flood must beat three times the operation's biggest recent surge; in its first week
# its surges (a form's 2-4x campaigns) are not known yet, so a flood must be ten times.
SURGES_KNOWN = 7 * 86400
YOUNG_PEAK = math.log(rules.FLOOD_CEILING / 3)
# How fast an operation's normal share of looped calls follows its windows: within its
# learning, and after it (about a day; a problem status does not stop it, so a
# producer's new placeholder id is normal within two days).
LOOPED_LEARNING, LOOPED_LEARNED = 1 / 30, 1 / 1440
SEVERITY = {Status.OK: 0, Status.LEARNING: 0, Status.SOME_PROBLEMS: 1}
_EMPTY = WindowCounts()


def severity(status: Status) -> int:
    return SEVERITY.get(status, 2)


def _stored(finding: Finding) -> dict[str, Any]:
    return {
        "status": finding.status.value,
        "reason": finding.reason,
        "observed": finding.observed,
        "expected": finding.expected,
    }


def _is_drop(observed: dict[str, Any]) -> bool:
    """Far fewer calls than expected: the same trouble as silence, told apart by a few
    calls; one does not replace the other back and forth."""
    return bool(observed.get("volume") == "drop")


def _persists(volume: dict[str, Any], residual: float) -> bool:
    """A volume finding holds while the hour is still half-way beyond normal."""
    if _is_drop(volume["observed"]):
        return residual <= rules.DROP_LAST
    return residual >= math.log(2)


class Engine:
    def __init__(self, config: DetectionConfig, window_seconds: int = 60) -> None:
        self.config = config
        self.window = window_seconds
        self.keep = max(1, 3600 // window_seconds)
        self.recover = max(1, RECOVER_MINUTES * 60 // window_seconds)
        self.quarter = max(1, 15 * 60 // window_seconds)
        self.five = max(1, 5 * 60 // window_seconds)
        self._rules: dict[str, Rule] = {}
        self.calendar = Calendar(config.zone, config.holidays)

    def rule(self, operation: str, integration: str | None) -> Rule:
        rule = self._rules.get(operation)
        if rule is None:
            rule = self._rules[operation] = self.config.rule_for(operation, integration)
        return rule

    def forget(self, operation: str) -> None:
        """Drop the operation's cached rule (it was evicted)."""
        self._rules.pop(operation, None)

    def advance(
        self,
        state: OperationState | None,
        operation: str,
        integration: str | None,
        windows: Mapping[int, WindowCounts],
        until: int,
        snapshots: Mapping[int, Snapshot] | None = None,
    ) -> tuple[OperationState | None, list[StatusChange]]:
        """Judge every window ending after the state's last boundary, up to ``until``;
        ``snapshots``: the events' lifecycle at window ends (``detector.lifecycle``)."""
        changes: list[StatusChange] = []
        if state is None:
            starts = [s for s, w in windows.items() if w.calls and s + self.window <= until]
            if not starts:
                return None, changes
            first = min(starts)
            state = OperationState(integration, first, first, since=first)
            state.reason = "new operation: learning its normal traffic"
            changes.append(self._change(operation, state, None, first))
        state.integration = integration or state.integration
        rule = self.rule(operation, state.integration)
        window, find, step = self.window, windows.get, self._step
        boundary = state.last_boundary + window
        while boundary <= until:  # Once per operation and window: kept lean.
            start = boundary - window
            run = quiet_windows(self, state, rule, start, until, windows, snapshots)
            if run:
                boundary += run * window
                continue
            counts = find(start)
            snap = snapshots.get(boundary) if snapshots else None
            if counts is None:
                quiet = start - (state.last_call_boundary or state.first_boundary)
                if snap is None and quiet >= DORMANT_SECONDS:
                    boundary = self._sleep(state, windows, snapshots, start, until) + window
                    continue
                counts = _EMPTY
            if snap is not None or counts.errors > counts.calls:
                counts = lifecycle.merged(counts, snap)
            change = step(state, operation, rule, start, counts, snap)
            if change is not None:
                changes.append(change)
            boundary += window
        return state, changes

    def _sleep(
        self,
        st: OperationState,
        windows: Mapping[int, WindowCounts],
        snapshots: Mapping[int, Snapshot] | None,
        start: int,
        until: int,
    ) -> int:
        """Skip a dormant operation's empty windows up to its next window with calls or
        a snapshot (or ``until``) and return that boundary. Its status holds and its
        baseline does not learn a silence that long; skipping each window alone would
        decide the same, so advancing in one call or window by window still agrees (live
        vs replay)."""
        ahead = [s for s in windows if start < s < until]
        ahead += [b - self.window for b in snapshots or () if start < b - self.window < until]
        resume = min(ahead, default=until)
        st.last_boundary = resume
        st.known = 0  # The lookbacks straddle the gap: judge volume on fresh windows only.
        return resume

    def _step(
        self,
        st: OperationState,
        operation: str,
        rule: Rule,
        start: int,
        counts: WindowCounts,
        snap: Snapshot | None = None,
    ) -> StatusChange | None:
        """One window judged and learned. ``detector.quiet`` does the same for runs of
        windows no rule can judge: a change here must be made there too (its test
        compares both ways)."""
        calendar = self.calendar
        end = start + self.window
        weekday, hour = local_hour(start - start % 3600, calendar.zone)
        minute_of_day = hour * 60 + (start % 3600) // 60
        in_schedule = rule.schedule is None or rule.schedule.contains(weekday, minute_of_day)
        expected, high, days = st.baseline.rate(start, self.window, calendar)
        if not in_schedule:
            expected = high = 0.0
        calls = counts.calls
        st.push(calls, counts.errors, expected, high, self.keep, self.quarter, self.five)
        hour_start = start - start % 3600
        if st.level[2] != hour_start:  # The level of a new clock hour is not known yet.
            st.level[0] = st.level[1] = 0.0
            st.level[2] = hour_start
        st.level[0] += calls
        st.level[1] += expected
        st.known = st.known + 1 if days else 0
        if counts.error_codes:
            st.recent_codes.append([end, dict(counts.error_codes)])
        if st.recent_codes and st.recent_codes[0][0] <= end - 3600:
            st.recent_codes = [e for e in st.recent_codes if e[0] > end - 3600]
        if counts.repeats:
            st.recent_repeats.append([end, counts.repeats, counts.looped])
        if st.recent_repeats and st.recent_repeats[0][0] <= end - self.quarter * self.window:
            kept = end - self.quarter * self.window
            st.recent_repeats = [e for e in st.recent_repeats if e[0] > kept]
        st.total_calls += calls
        if calls:
            st.last_call_boundary = end
            st.silent_expected = st.silent_effective = 0.0
            st.schedule_gap = 0
        else:
            st.silent_expected += expected
            st.silent_effective += rules.silence_weight(expected, st.baseline.dispersion)
            if in_schedule:
                st.schedule_gap += self.window
        when = (weekday, hour)
        finding = None if rule.mute else self._judge(st, rule, start, days, in_schedule, when)
        if snap is not None and not rule.mute:
            finding = lifecycle.judge(finding, snap, calendar.zone)
        if calls and (counts.looped or st.looped_normal):
            rate = LOOPED_LEARNING if st.status is Status.LEARNING else LOOPED_LEARNED
            st.looped_normal += (min(1.0, counts.looped / calls) - st.looped_normal) * rate
        problem = st.status in PROBLEMS
        if end % 3600 == 0 and len(st.recent_calls) == self.keep:
            st.baseline.learn_windows(st.recent_calls, st.recent_errors)  # The hour ended.
        st.baseline.learn(start, end, calls, counts.errors, problem, calendar)
        st.last_boundary = end
        return self._transition(st, operation, rule, finding, end, calls)

    def _judge(
        self,
        st: OperationState,
        rule: Rule,
        start: int,
        days: int,
        in_schedule: bool,
        when: rules.Moment,
    ) -> Finding | None:
        learning = st.status is Status.LEARNING
        # Cheap tests first: most windows of a healthy operation end here.
        # A drop already reported is not re-reported as silence when the trickle pauses.
        dropped = st.status is Status.SOME_PROBLEMS and _is_drop(st.observed)
        if (
            st.recent_calls[-1] == 0
            and not dropped
            and (
                st.silent_effective >= SILENCE_FLOOR
                or rule.expect_every is not None
                or st.baseline.period
            )
        ):
            found = self._silence(st, rule, start, days, in_schedule, when)
            if found is not None:
                return found
        if st.hour_sums[1] >= rules.MIN_ERRORS:
            baseline = st.baseline
            found = self._errors(
                st,
                rule,
                start,
                learning,
                (st.recent_calls[-1], st.recent_errors[-1]),
                (st.five_sums[0], st.five_sums[1], st.quarter_sums[0], st.quarter_sums[1]),
                (st.hour_sums[0], st.hour_sums[1], baseline.hour_calls, baseline.hour_errors),
            )
            if found is not None:
                return found
        if st.recent_repeats and not learning:
            found = rules.resent_ids(
                self.quarter * self.window // 60,
                int(st.quarter_sums[0]),
                sum(e[1] for e in st.recent_repeats),
                sum(e[2] for e in st.recent_repeats),
                st.looped_normal,
                repeats.LOOP,
            )
            if found is not None:
                return found
        if learning or not in_schedule or not days:
            return None
        if st.volume is not None:
            return Finding(
                Status(st.volume["status"]),
                st.volume["reason"],
                st.volume["observed"],
                st.volume["expected"],
            )
        if st.known >= self.quarter and not st.baseline.machine:
            return rules.resend_loop(
                15,
                int(st.quarter_sums[0]),
                st.quarter_sums[3],
                st.baseline.dispersion,
                days,
                rule,
                when,
            )
        return None

    def _errors(
        self,
        st: OperationState,
        rule: Rule,
        start: int,
        learning: bool,
        window: tuple[int, int],
        recent: tuple[int, int, float, float],
        hour: tuple[float, float, int, int],
    ) -> Finding | None:
        """``rules.error_spike`` over the lookbacks: (calls, errors) of the window, of the
        last 5 and 15 minutes (``recent``), of the last 60 and of this clock hour before
        the window (``hour``), as a step has them (``detector.quiet`` asks too)."""
        calls, errors = window
        lookbacks: list[tuple[int, int, int]] = [
            (self.window // 60 or 1, calls, errors),
            (5, recent[0], recent[1]),
            (15, int(recent[2]), int(recent[3])),
            (60, int(hour[0]), int(hour[1])),
        ]
        longer = self._two_hours(st, start, calls, errors, hour[2], hour[3])
        if longer is not None:
            lookbacks.append(longer)
        baseline = st.baseline
        found = rules.error_spike(
            lookbacks,
            baseline.error_ratio,
            rule,
            learning,
            baseline.error_wobble,
            baseline.pinned_ratio,
            baseline.error_clump,
        )
        if found is not None:
            since = start + self.window - found.observed["minutes"] * 60
            codes = st.error_codes(since)
            if codes:
                found.observed["error_codes"] = codes
        return found

    def _two_hours(
        self, st: OperationState, start: int, calls: int, errors: int, hour_calls: int,
        hour_errors: int,
    ) -> tuple[int, int, int] | None:  # fmt: skip
        """The previous clock hour and this one so far (61 to 120 minutes: ``hour_calls``
        and ``hour_errors`` before this window's ``calls`` and ``errors``), when both
        were watched: a partial-error incident on a quiet operation (30 calls an hour at
        three times its normal ratio) is only a bad hour under the ratio's learned
        wobble, but two such hours add up (docs/detection.md, *Error spikes*)."""
        baseline = st.baseline
        last_start, last_calls, last_errors, _ = baseline.last_hour
        if baseline.hour_start is None or last_start != baseline.hour_start - 3600:
            return None
        minutes = 60 + (start + self.window - baseline.hour_start) // 60
        return minutes, last_calls + hour_calls + calls, last_errors + hour_errors + errors

    def _silence(
        self,
        st: OperationState,
        rule: Rule,
        start: int,
        days: int,
        in_schedule: bool,
        when: rules.Moment,
    ) -> Finding | None:
        """``no_calls``: a configured promise broken, two runs of a learned cadence
        missed, or, for other operations, silence against the seasonal rate."""
        if rule.expect_every is not None:
            return rules.expectation_gap(st.schedule_gap, rule)
        if st.status is Status.LEARNING or not in_schedule:
            return None
        end = start + self.window
        baseline = st.baseline
        if baseline.period and baseline.last_run is not None:
            gap = end - baseline.last_run
            return rules.missed_runs(gap, baseline.period, baseline.jitter, self.window)
        if not baseline.placed(days) or st.silent_effective < SILENCE_FLOOR:
            return None
        threshold = self._silence_threshold(baseline, rule, start, days)
        gap = end - (st.last_call_boundary or st.first_boundary)
        # The level is doubted at the scale of the gap: an hour's wobble over a short
        # silence, the day's over a long one (docs/detection.md, "Silence").
        scale = 0 if gap < 2 * 3600 else 1 if gap < 6 * 3600 else 2
        calls, expected, hour_start = st.level
        last = (st.last_call_boundary or 0) - 1
        if hour_start != start - start % 3600 or last - last % 3600 != hour_start:
            calls = expected = 0.0  # No call this hour: nothing known of its level.
        # The hour's level as it was at the last call: the silence must not lower it.
        expected = max(0.0, expected - st.silent_expected)
        level = rules.level_estimate(calls, expected, baseline.down[scale], baseline.dispersion)
        weekend = self._weekend_doubt(baseline, start)
        return rules.silence(
            gap, st.silent_expected, st.silent_effective, level, threshold, when, weekend
        )

    def _silence_threshold(self, baseline: Baseline, rule: Rule, start: int, days: int) -> float:
        """The silence evidence that is ``no_calls`` at the window starting at ``start``:
        ``rules.silence`` weighs less than the evidence itself (``detector.quiet`` asks
        ``_silence`` only from there)."""
        per_day = baseline.calls_per_day(start, self.calendar)
        return rules.silence_threshold(per_day, days, rule)

    def _unless_holiday(
        self,
        st: OperationState,
        rule: Rule,
        hour_start: int,
        drop: Finding,
        calls: float,
        scaled: float,
    ) -> Finding | None:
        """A drop on a weekday that may be an unlisted holiday (more likely than the
        rule's p-value) stands only if it is a drop against the weekend profile too."""
        share, log_odds = self._weekend_doubt(st.baseline, hour_start)
        if share >= 1 or log_odds < math.log(rule.p_value):
            return drop
        baseline, weekend = st.baseline, scaled * share
        residual = math.log((calls + 0.5) / (weekend + 0.5))
        variance = rules.log_count_variance(calls, weekend, baseline.dispersion)
        kind, hour = hour_kind(hour_start, self.calendar)
        return rules.hourly_volume(
            [*baseline.residuals, [hour_start, residual, variance]],
            baseline.down,
            baseline.peak,
            int(calls),
            weekend,
            baseline.seen[kind][hour] - 1,
            rule,
            local_hour(hour_start, self.calendar.zone),
            baseline.offset,
        )

    def _weekend_doubt(self, baseline: Baseline, start: int) -> tuple[float, float]:
        """(share of its weekday expectation the weekend profile expects now, log odds
        that today, a weekday, is an unlisted holiday) for ``rules.silence`` and drops."""
        hour_start = start - start % 3600
        kind, hour = hour_kind(hour_start, self.calendar)
        weekday, weekend = baseline.hourly[0][hour], baseline.hourly[1][hour]
        if kind or baseline.seen[1][hour] < 2 or weekday <= 0 or weekend >= weekday:
            return 1.0, -math.inf
        day, evidence, _ = baseline.holiday
        if local_midnight(hour_start, self.calendar.zone) != day:
            return 1.0, -math.inf  # No business-wide record of today: no doubt.
        return weekend / weekday, HOLIDAY_PRIOR + evidence

    def settle(
        self, st: OperationState, operation: str, factor_of: Callable[[int], float | None]
    ) -> None:
        """Judge the operation's closed hours against its learned spread, each relative
        to the business-wide factor of that hour (``shared.hour_factors``; None: not
        known yet, try again later). The finding, if any, holds until the next hour is
        judged; the status changes at the next window (``_judge``)."""
        rule = self.rule(operation, st.integration)
        pending = st.baseline.pending
        while pending:
            hour_start, calls, expected, tainted = pending[0][:4]
            weekend = pending[0][5] if len(pending[0]) > 5 else -1.0
            if weekend >= 0 and st.baseline.holiday_like(int(hour_start), self.calendar):
                expected = weekend  # Found since to be a holiday: judged as a weekend's.
            factor = factor_of(int(hour_start))
            if factor is None:
                return
            del pending[0]
            self._settle_hour(st, rule, int(hour_start), calls, expected, bool(tainted), factor)

    def _settle_hour(
        self,
        st: OperationState,
        rule: Rule,
        hour_start: int,
        calls: float,
        expected: float,
        tainted: bool,
        factor: float,
    ) -> None:
        baseline = st.baseline
        scaled = expected * math.exp(factor)
        residual = math.log((calls + 0.5) / (scaled + 0.5))
        variance = rules.log_count_variance(calls, scaled, baseline.dispersion)
        weekday, hour = local_hour(hour_start, self.calendar.zone)
        in_schedule = rule.schedule is None or rule.schedule.contains(weekday, hour * 60)
        finding = None
        if scaled < rules.MIN_HOUR_EXPECTED or baseline.machine:
            # Quiet hours, scheduled jobs and batches are not judged by volume: a batch
            # that slips across an hour boundary doubles one hour and empties the next.
            st.volume = None
            return
        base = min(baseline.offset, 0.0)
        run = baseline.sustained
        if scaled >= SPREAD_MIN_EXPECTED:  # Fewer calls: mostly Poisson noise, skewed low.
            run = rules.drop_evidence(run, residual, variance, baseline.down[0], base)
            baseline.sustained = run
        if not rule.mute and in_schedule and st.status is not Status.LEARNING:
            kind, _ = baseline.kind(hour_start, self.calendar)
            days = baseline.seen[kind][hour] - 1
            judged = [*baseline.residuals, [hour_start, residual, variance]]
            peak = baseline.peak
            if hour_start - st.first_boundary < SURGES_KNOWN:
                peak = max(peak, YOUNG_PEAK)
            finding = rules.hourly_volume(
                judged,
                baseline.down,
                peak,
                int(calls),
                scaled,
                days,
                rule,
                (weekday, hour),
                baseline.offset,
            ) or rules.sustained_drop(
                run, residual - base, int(calls), scaled, days, rule, (weekday, hour)
            )
            if finding is not None and _is_drop(finding.observed):
                finding = self._unless_holiday(st, rule, hour_start, finding, calls, scaled)
                if finding is not None:  # Reported: its evidence must not report it again.
                    baseline.sustained = [0.0, 0.0, 0.0]
            if finding is None and st.volume is not None and _persists(st.volume, residual):
                return  # Not recovered yet: the finding holds.
        st.volume = None if finding is None else _stored(finding)
        if not tainted:
            baseline.learn_volume(hour_start, residual, variance, scaled)

    def _transition(
        self,
        st: OperationState,
        operation: str,
        rule: Rule,
        finding: Finding | None,
        end: int,
        calls: int,
    ) -> StatusChange | None:
        current = st.status
        if current is Status.LEARNING:
            if finding is not None:
                return self._enter(st, operation, finding, end)
            if rule.expect_every is not None or (
                end - st.first_boundary >= WARMUP_SECONDS and st.total_calls >= WARMUP_CALLS
            ):
                span = wording.duration(end - st.first_boundary)
                return self._enter(
                    st,
                    operation,
                    Finding(Status.OK, f"learned from {wording.calls(st.total_calls)} over {span}"),
                    end,
                )
            return None
        if finding is not None:
            st.calm = 0
            if self._hold(st, current, finding):
                return None
            if (
                current is Status.OK
                or severity(finding.status) > severity(current)
                or (current is Status.NO_CALLS and calls and not _is_drop(finding.observed))
            ):
                return self._enter(st, operation, finding, end)
            if finding.status is not current:
                st.milder += 1
                if st.milder >= self.recover:
                    return self._enter(st, operation, finding, end)
            else:
                st.milder = 0
            return None
        st.calm += 1
        recovered = self._recovery(st, current, calls)
        return None if recovered is None else self._enter(st, operation, recovered, end)

    def _hold(self, st: OperationState, current: Status, finding: Finding) -> bool:
        """Hold a partial-errors finding for a few windows while the newest windows (the
        last three) look like everything is failing: the evidence for ``many_problems`` is
        usually a minute or two away, and one right status beats a wrong one then a fix."""
        calls, errors = sum(st.recent_calls[-3:]), sum(st.recent_errors[-3:])
        severe = calls > 0 and errors / calls >= rules.severe_ratio(st.baseline.error_ratio)
        some = current is Status.OK and finding.status is Status.SOME_PROBLEMS
        if some and severe and st.held < HOLD_WINDOWS:
            st.held += 1
            return True
        st.held = 0
        return False

    def _recovery(self, st: OperationState, current: Status, calls: int) -> Finding | None:
        if current is Status.OK:
            return None
        if current is Status.NO_CALLS:
            # Resumed for real: most of a window's expected calls, or half of those of
            # the last few windows; not a trickle (an office on a holiday).
            n, _, lam = st.last(self.recover)
            window = st.recent_expected[-1]
            if not calls or (calls < 0.75 * window and n < RESUMED_SHARE * lam):
                return None
            resumed = f"{wording.calls(calls)} in the last {wording.duration(self.window)}"
            return Finding(Status.OK, f"calls resumed: {resumed}", {"calls": calls})
        if st.calm < self.recover:
            return None
        n, k, lam = st.last(self.recover)
        normal = st.baseline.error_ratio
        if n == 0 or k / n > max(1.5 * normal, normal + 0.02):
            return None
        return Finding(
            Status.OK,
            f"back to normal: {wording.percent(k / n)} of {wording.calls(n)} failed in the last "
            f"{wording.duration(self.recover * self.window)}; normally {wording.percent(normal)}",
            {"calls": n, "errors": k},
            {"error_ratio": round(normal, 4), "calls": round(lam, 2)},
        )

    def _enter(
        self, st: OperationState, operation: str, finding: Finding, end: int
    ) -> StatusChange:
        previous = st.status
        st.status, st.since, st.reason = finding.status, end, finding.reason
        st.observed, st.expected = dict(finding.observed), dict(finding.expected)
        st.calm = st.milder = 0
        return self._change(operation, st, previous, end)

    def _change(
        self, operation: str, st: OperationState, previous: Status | None, at: int
    ) -> StatusChange:
        moment = datetime.fromtimestamp(at, tz=UTC)
        return StatusChange(
            id=change_id(operation, moment, previous, st.status),
            operation=operation,
            integration=st.integration,
            previous=previous,
            status=st.status,
            at=moment,
            reason=st.reason,
            observed=st.observed,
            expected=st.expected,
        )
