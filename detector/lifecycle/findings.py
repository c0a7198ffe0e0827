"""The lifecycle's say in a window's status, pure: stuck events make a finding of their
own; given-up retries, a run of one error and failures at the same time every day are
evidence added to the reason of a problem found."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from detector import wording
from detector.lifecycle.tracker import MIN_STREAK, Snapshot
from detector.rules import Finding
from detector.status import Status
from detector.windows import WindowCounts

MIN_STUCK = 3  # Like failures: one or two stuck events among many are not a status.
MOST = 0.5  # Above this share of recent events stuck: ``many_problems``.


def merged(counts: WindowCounts, snap: Snapshot | None) -> WindowCounts:
    """The window's counts with the retries given up in it as failures. An event's call
    is counted when it is first seen, its failure when it fails, possibly a window later:
    a window never shows more failures than calls."""
    gave_up = snap.gave_up if snap is not None else 0
    errors = counts.errors + gave_up
    if not gave_up and errors <= counts.calls:
        return counts
    out = WindowCounts(max(counts.calls, errors), errors, counts.retries, dict(counts.error_codes),
                       counts.repeats, counts.looped)  # fmt: skip
    if snap is not None:
        out.add_codes(snap.codes)
    return out


def stuck(snap: Snapshot, zone: ZoneInfo) -> Finding | None:
    """Events received or processing past the threshold: some stuck is ``some_problems``,
    most of the recent ones (first seen in the threshold before the cutoff) stuck is
    ``many_problems``. Once no event got stuck for a threshold, older stuck ones stay
    listed on the dashboard but no longer hold the status."""
    if not snap.recent_stuck:
        return None
    every = snap.recent > 0 and snap.recent_stuck >= snap.recent
    if snap.stuck < MIN_STUCK and not every:
        return None
    most = snap.recent_stuck >= MIN_STUCK and snap.recent_stuck > MOST * snap.recent
    oldest = datetime.fromtimestamp(snap.oldest, tz=UTC).astimezone(zone)
    events = "event" if snap.stuck == 1 else "events"
    return Finding(
        Status.MANY_PROBLEMS if most else Status.SOME_PROBLEMS,
        f"{snap.stuck} {events} stuck in {snap.stuck_phase} for more than "
        f"{wording.duration(snap.threshold)} (oldest since {oldest:%H:%M})",
        {"stuck": snap.stuck, "stuck_recent": snap.recent_stuck, "recent_events": snap.recent},
        {"stuck": 0, "stuck_after_minutes": round(snap.threshold / 60, 1)},
    )


def retries(snap: Snapshot) -> Finding | None:
    """Retries that never resolved: given up at the horizon. Most recent outcomes given
    up is ``many_problems`` (the destination is down for everyone), some is ``some_problems``."""
    n = snap.retried_out
    if n < MIN_STUCK or snap.retries is None:
        return None
    most = n > MOST * (n + snap.finished)
    return Finding(
        Status.MANY_PROBLEMS if most else Status.SOME_PROBLEMS,
        snap.retries,
        {"errors": n, "retried_out": n, "finished": snap.finished, "minutes": 15},
        {"retried_out": 0},
    )


def streak_note(snap: Snapshot) -> str | None:
    run = snap.streak
    if run is None or run.count < MIN_STREAK:
        return None
    error = f"{run.code} {run.message}".strip()
    note = f"{run.count} failures in a row with the same error {error}"
    cause = wording.cause_hint(error)
    return f"{note} ({cause})" if cause else note


def judge(finding: Finding | None, snap: Snapshot, zone: ZoneInfo) -> Finding | None:
    """The worst of the window's finding and the lifecycle's own (stuck events, retries
    given up), with the evidence."""
    for found in (stuck(snap, zone), retries(snap)):
        if found is not None and (finding is None or _worse(found.status, finding.status)):
            finding = found
    if finding is None or not finding.status.is_problem:
        return finding
    failing = bool(finding.observed.get("errors"))
    retried = snap.retries if finding.reason != snap.retries else None
    candidates = [retried, streak_note(snap)] if failing else []
    notes = [n for n in [*candidates, snap.recurring] if n]
    if not notes:
        return finding
    observed = dict(finding.observed)
    observed["evidence"] = notes
    return replace(finding, reason="; ".join([finding.reason, *notes]), observed=observed)


def _worse(a: Status, b: Status) -> bool:
    rank = {Status.SOME_PROBLEMS: 1, Status.MANY_PROBLEMS: 2, Status.NO_CALLS: 2}
    return rank.get(a, 0) > rank.get(b, 0)
