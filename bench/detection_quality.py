"""Detection quality per traffic family: 5 weeks of 12-15 operations, every incident kind,
several seeds (issue 12's targets).

    .venv/bin/python bench/detection_quality.py [--days 35] [--seeds 1 2 3] [--family NAME ...]

Families: ``plain`` (Poisson around a smooth seasonal level, the old suite) and, on the
realistic operations (plus an order form, a 15-minute sync and an hourly cron), one
family per property of real traffic (``detector.simulate.Realism``) and ``realistic``
with all of them. Prints per family and seed: incidents detected with the right status,
delays (silences against the time after which zero calls is a 1-in-10,000 event at the
true rate, scheduled jobs against two missed runs), false problem statuses per 100
operation-days after the first two weeks, and replay throughput; then a summary table.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from detector.events import OperationCall
from detector.opconfig import DetectionConfig
from detector.replay import ReplayStats, replay
from detector.simulate import (
    DAY,
    PERIODS,
    PLAIN,
    PROFILES,
    REALISTIC_PROFILES,
    Incident,
    Profile,
    Realism,
    generate,
    suite_holidays,
    suite_incidents,
    true_rate,
)
from detector.status import StatusChange

START = int(datetime(2026, 3, 2, tzinfo=UTC).timestamp())  # A Monday.
MARGIN = 3 * 3600  # A problem status this close after an incident belongs to it.
HOLIDAYS = suite_holidays(START)
STEP = ("Webhook.Delivery", START + 19 * DAY + 10 * 3600, 1.5)  # A new client, for good.
QUIET = dataclasses.replace(PLAIN, origin=START)


@dataclass(frozen=True)
class Family:
    name: str
    realism: Realism
    listed_holidays: bool = False  # Holidays listed in the detection config.
    plain: bool = False  # The old suite: 12 operations, plain incidents.


FAMILIES = [
    Family("plain", PLAIN, plain=True),
    Family(
        "dispersion",
        dataclasses.replace(
            QUIET, day_shared=0.15, day_own=0.12, hour_shared=0.2, hour_own=0.25, minute_shape=3.0
        ),
    ),
    Family(
        "integrations",  # The same wobble, partly shared within an integration.
        dataclasses.replace(
            QUIET,
            day_shared=0.15,
            day_own=0.12,
            hour_shared=0.2,
            hour_integration=0.15,
            hour_own=0.2,
            minute_shape=3.0,
        ),
    ),
    Family("campaigns", dataclasses.replace(QUIET, campaigns=True)),
    Family("holidays", dataclasses.replace(QUIET, holidays=HOLIDAYS)),
    Family("holidays-listed", dataclasses.replace(QUIET, holidays=HOLIDAYS), listed_holidays=True),
    Family("growth", dataclasses.replace(QUIET, growth_per_week=0.03, steps=(STEP,))),
    Family("scheduled", dataclasses.replace(QUIET, jitter=True)),
    Family("error-wobble", dataclasses.replace(QUIET, error_day=0.3, error_hour=0.2)),
    Family("retries", dataclasses.replace(QUIET, error_retries=3)),
    Family("realistic", Realism(origin=START, holidays=HOLIDAYS, steps=(STEP,))),
]


@dataclass
class Outcome:
    incidents: int = 0
    detected: int = 0
    right: int = 0
    slow: int = 0
    false: int = 0  # False problem statuses (every change into one).
    episodes: int = 0  # False problem episodes (from a healthy status into a problem).
    op_days: int = 0
    # Silences of non-scheduled operations: (operation, delay, target) in minutes.
    silences: list[tuple[str, float, float]] = dataclasses.field(default_factory=list)
    events_per_s: float = 0.0


def silence_reference(profile: Profile, incident: Incident, seed: int, realism: Realism) -> float:
    """Seconds after which the detector should have said ``no_calls``: two missed runs
    (plus a run's jitter) for a scheduled job, else 1.5 times the time after which zero
    calls has probability 1e-4 at the true rate. With bursty minutes (a Gamma multiplier
    of shape k on each minute's rate λ), an empty minute has probability (1 + λ/k)^-k,
    not exp(-λ): the honest target is later. λ is the level the multiplier is drawn
    around (the day's and the hour's wobble included), not the minute's drawn rate:
    that would count the burstiness twice (a later target, by up to 3 minutes)."""
    if profile.shape in PERIODS and profile.shape != "nightly":
        return 3 * PERIODS[profile.shape] * 60
    k = realism.minute_shape
    evidence, t = 0.0, incident.start
    while evidence < math.log(1e4) and t < incident.end + 7 * DAY:
        rate = true_rate(profile, t, seed=seed, realism=realism, bursty=False)
        evidence += k * math.log1p(rate / k) if k else rate
        t += 60
    return 1.5 * (t - incident.start)


def run(family: Family, seed: int, days: int, verbose: bool) -> Outcome:
    profiles = PROFILES if family.plain else REALISTIC_PROFILES
    incidents = suite_incidents(START, realistic=not family.plain)
    end = START + days * DAY
    records = generate(profiles, incidents, START, end, seed=seed, realism=family.realism)
    calls = [OperationCall.model_validate(r) for r in records]
    config = DetectionConfig()
    if family.listed_holidays:
        days_listed = sorted(datetime.fromtimestamp(h, tz=UTC).date() for h in HOLIDAYS)
        config = DetectionConfig.model_validate({"holidays": days_listed})
    stats = ReplayStats()
    began = time.perf_counter()
    changes = list(replay(calls, config, stats=stats))
    elapsed = time.perf_counter() - began
    out = Outcome(events_per_s=stats.events / elapsed)
    if verbose:
        print(
            f"\n## {family.name}, seed {seed}: {stats.events:,} events ({stats.calls:,} calls, "
            f"{len(profiles)} operations, {days} days) replayed in {elapsed:.2f} s"
        )
    by_name = {p.operation: p for p in profiles}
    for incident in incidents:
        if incident.start >= end:
            continue
        report_incident(incident, changes, by_name[incident.operation], seed, family, out, verbose)
    report_false_alarms(incidents, changes, days, len(profiles), out, verbose)
    return out


def report_incident(
    incident: Incident,
    changes: list[StatusChange],
    profile: Profile,
    seed: int,
    family: Family,
    out: Outcome,
    verbose: bool,
) -> None:
    found = [
        c
        for c in changes
        if c.operation == incident.operation
        and c.status.is_problem
        and incident.start <= c.at.timestamp() <= incident.end + MARGIN
    ]
    label = f"{incident.kind} {incident.operation}"
    if not incident.expected:
        if found:
            out.false += 1
        if verbose:
            verdict = "ok (no alert)" if not found else f"FALSE ALARM {found[0].status.value}"
            print(f"  {label:<34} {verdict}")
        return
    out.incidents += 1
    if not found:
        if verbose:
            print(f"  {label:<34} MISSED")
        return
    out.detected += 1
    first = found[0]
    delay = first.at.timestamp() - incident.start
    right = first.status in incident.expected
    out.right += right
    target = ""
    if incident.kind in ("silence", "long_drop"):
        limit = (
            silence_reference(profile, incident, seed, family.realism)
            if incident.kind == "silence"
            else 4 * 3600
        )
        ok = delay <= limit
        out.slow += not ok
        target = f"<= {limit / 60:.1f} min ({'ok' if ok else 'SLOW'})"
        if incident.kind == "silence" and profile.shape not in PERIODS:
            out.silences.append((incident.operation, delay / 60, limit / 60))
    if verbose:
        given = first.status.value + ("" if right else " (WRONG KIND)")
        print(f"  {label:<34} {given:<26} {delay / 60:>6.0f} min  {target}")


def report_false_alarms(
    incidents: list[Incident],
    changes: list[StatusChange],
    days: int,
    operations: int,
    out: Outcome,
    verbose: bool,
) -> None:
    after = START + 14 * DAY

    def explained(change: StatusChange) -> bool:
        at = change.at.timestamp()
        return any(
            i.operation == change.operation and i.expected and i.start <= at <= i.end + MARGIN
            for i in incidents
        )

    false = [
        c for c in changes if c.status.is_problem and c.at.timestamp() >= after and not explained(c)
    ]
    # An episode starts when a problem status follows a healthy one (ok, learning).
    episodes = [c for c in false if c.previous is None or not c.previous.is_problem]
    out.false += len(false)
    out.episodes += len(episodes)
    out.op_days = operations * (days - 14)
    if verbose:
        kinds = Counter(f"{c.status.value}:{c.observed.get('volume', '')}" for c in false)
        print(
            f"  false problem statuses after day 14: {out.false} in {out.op_days} op-days = "
            f"{100 * out.false / out.op_days:.2f} per 100 op-days ({len(episodes)} episodes)  "
            f"{dict(kinds)}"
        )
        for change in false[:8]:
            print(f"    {change.at:%m-%d %a %H:%M} {change.operation}: {change.reason}")
        if len(false) > 8:
            print(f"    ... and {len(false) - 8} more")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=35)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--family", nargs="+", choices=[f.name for f in FAMILIES])
    parser.add_argument("--quiet", action="store_true", help="only the summary table")
    args = parser.parse_args()
    chosen = [f for f in FAMILIES if not args.family or f.name in args.family]
    rows = []
    for family in chosen:
        outcomes = [run(family, seed, args.days, not args.quiet) for seed in args.seeds]
        rows.append((family.name, outcomes))
    print(
        f"\n{'family':<16} {'detected':>9} {'right kind':>10} {'slow':>5} "
        f"{'false statuses/100 op-days':>27} {'episodes':>9} {'events/s':>9}"
        f"   (seeds {' '.join(map(str, args.seeds))})"
    )
    for name, outcomes in rows:
        total = sum(o.incidents for o in outcomes)
        detected = sum(o.detected for o in outcomes)
        right = sum(o.right for o in outcomes)
        slow = sum(o.slow for o in outcomes)
        rate = 100 * sum(o.false for o in outcomes) / sum(o.op_days for o in outcomes)
        speed = sum(o.events_per_s for o in outcomes) / len(outcomes)
        worst = max(100 * o.false / o.op_days for o in outcomes)
        episodes = 100 * sum(o.episodes for o in outcomes) / sum(o.op_days for o in outcomes)
        print(
            f"{name:<16} {detected:>4}/{total:<4} {right:>10} {slow:>5} "
            f"{rate:>12.2f} (worst {worst:5.2f}) {episodes:>9.2f} {speed:>9,.0f}"
        )
    print("\nsilences, delay/target in minutes, seed by seed:")
    for name, outcomes in rows:
        for operation in sorted({s[0] for o in outcomes for s in o.silences}):
            figures = [
                f"{delay:.0f}/{limit:.1f}"
                for o in outcomes
                for op, delay, limit in o.silences
                if op == operation
            ]
            print(f"  {name:<16} {operation:<20} {'  '.join(figures)}")


if __name__ == "__main__":
    main()
