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

from collections.abc import Mapping
from datetime import UTC, datetime

from detector import rules, wording
from detector.baseline import local_hour
from detector.lifecycle import findings as lifecycle
from detector.lifecycle.tracker import Snapshot
from detector.opconfig import DetectionConfig, Rule
from detector.rules import Finding
from detector.state import OperationState
from detector.status import PROBLEMS, Status, StatusChange, change_id
from detector.windows import WindowCounts

# Error ratios are judged over the newest window and the last 5, 15 and 60 minutes.
HOLD_WINDOWS = 3
SILENCE_FLOOR = 4.0  # Below every silence threshold: no need to compute it.
RECOVER_MINUTES = 5
WARMUP_SECONDS = 2 * 3600
WARMUP_CALLS = 30
DORMANT_SECONDS = 7 * 86400  # Longer than any normal gap: weekends, holidays, weekly runs.
SEVERITY = {Status.OK: 0, Status.LEARNING: 0, Status.SOME_PROBLEMS: 1}
_EMPTY = WindowCounts()


def severity(status: Status) -> int:
    return SEVERITY.get(status, 2)


class Engine:
    def __init__(self, config: DetectionConfig, window_seconds: int = 60) -> None:
        self.config = config
        self.window = window_seconds
        self.keep = max(1, 3600 // window_seconds)
        self.recover = max(1, RECOVER_MINUTES * 60 // window_seconds)
        self.quarter = max(1, 15 * 60 // window_seconds)
        self.five = max(1, 5 * 60 // window_seconds)
        self._rules: dict[str, Rule] = {}

    def rule(self, operation: str, integration: str | None) -> Rule:
        rule = self._rules.get(operation)
        if rule is None:
            rule = self._rules[operation] = self.config.rule_for(operation, integration)
        return rule

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
        boundary = state.last_boundary + self.window
        while boundary <= until:
            start = boundary - self.window
            counts = windows.get(start)
            snap = snapshots.get(boundary) if snapshots else None
            quiet = start - (state.last_call_boundary or state.first_boundary)
            if counts is None and snap is None and quiet >= DORMANT_SECONDS:
                boundary = self._sleep(state, windows, snapshots, start, until) + self.window
                continue
            counts = lifecycle.merged(_EMPTY if counts is None else counts, snap)
            change = self._step(state, operation, rule, start, counts, snap)
            if change is not None:
                changes.append(change)
            boundary += self.window
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
        zone = self.config.zone
        end = start + self.window
        weekday, hour = local_hour(start - start % 3600, zone)
        minute_of_day = hour * 60 + (start % 3600) // 60
        in_schedule = rule.schedule is None or rule.schedule.contains(weekday, minute_of_day)
        expected, high, days = st.baseline.rate(start, self.window, zone)
        if not in_schedule:
            expected = high = 0.0
        calls = counts.calls
        st.push(calls, counts.errors, expected, high, self.keep, self.quarter, self.five)
        st.known = st.known + 1 if days else 0
        if counts.error_codes:
            st.recent_codes.append([end, dict(counts.error_codes)])
        if st.recent_codes and st.recent_codes[0][0] <= end - 3600:
            st.recent_codes = [e for e in st.recent_codes if e[0] > end - 3600]
        st.total_calls += calls
        if calls:
            st.last_call_boundary = end
            st.silent_expected = st.silent_effective = 0.0
            st.schedule_gap = 0
        else:
            st.silent_expected += expected
            st.silent_effective += expected / st.baseline.dispersion
            if in_schedule:
                st.schedule_gap += self.window
        when = (weekday, hour)
        finding = None if rule.mute else self._judge(st, rule, start, days, in_schedule, when)
        if snap is not None and not rule.mute:
            finding = lifecycle.judge(finding, snap, zone)
        problem = st.status in PROBLEMS
        if end % 3600 == 0 and len(st.recent_calls) == self.keep:
            st.baseline.learn_burstiness(st.recent_calls)  # The hour that just ended.
        st.baseline.learn(start, calls, counts.errors, problem, zone)
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
        if st.recent_calls[-1] == 0 and (
            st.silent_effective >= SILENCE_FLOOR or rule.expect_every is not None
        ):
            found = rules.expectation_gap(st.schedule_gap, rule)
            if found is None and not learning and in_schedule and days:
                per_day = st.baseline.calls_per_day(start, self.config.zone)
                threshold = rules.silence_threshold(per_day, days, rule)
                gap = start + self.window - (st.last_call_boundary or st.first_boundary)
                found = rules.silence(gap, st.silent_expected, st.silent_effective, threshold, when)
            if found is not None:
                return found
        if st.hour_sums[1] >= rules.MIN_ERRORS:
            quarter, hour = st.quarter_sums, st.hour_sums
            lookbacks: list[tuple[int, int, int]] = [
                (self.window // 60 or 1, st.recent_calls[-1], st.recent_errors[-1]),
                (5, st.five_sums[0], st.five_sums[1]),
                (15, int(quarter[0]), int(quarter[1])),
                (60, int(hour[0]), int(hour[1])),
            ]
            found = rules.error_spike(lookbacks, st.baseline.error_ratio, rule, learning)
            if found is not None:
                since = start + self.window - found.observed["minutes"] * 60
                codes = st.error_codes(since)
                if codes:
                    found.observed["error_codes"] = codes
                return found
        if learning or not in_schedule or not days:
            return None
        for minutes, sums in ((15, st.quarter_sums), (60, st.hour_sums)):
            if st.known * self.window < minutes * 60:
                continue  # Part of the lookback was judged before the baseline knew it.
            n, low, high = int(sums[0]), sums[2], sums[3]
            if 0 < n <= 0.4 * low or n >= 3 * high + 10:
                found = rules.volume(
                    minutes, n, low, high, st.baseline.dispersion, days, rule, when
                )
                if found is not None:
                    return found
        return None

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
                or (current is Status.NO_CALLS and calls)
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
            if not calls:
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
