"""Detection quality on a labelled suite: 5 weeks, 12 operations, every incident kind.

    .venv/bin/python bench/detection_quality.py [--days 35] [--seed 1]

Prints, per incident: detected or not, the status given, the delay; false alarms per
100 operation-days after the first two weeks; for silences, the delay against the time
after which zero calls is a 1-in-10,000 event at the true rate; and replay throughput.
"""

from __future__ import annotations

import argparse
import math
import time
from datetime import UTC, datetime

from detector.events import OperationCall
from detector.opconfig import DetectionConfig
from detector.replay import ReplayStats, replay
from detector.simulate import DAY, PROFILES, Incident, generate, suite_incidents, true_rate
from detector.status import StatusChange

START = int(datetime(2026, 3, 2, tzinfo=UTC).timestamp())  # A Monday.
MARGIN = 3 * 3600  # A problem status this close after an incident belongs to it.


def silence_reference(incident: Incident) -> float:
    """Seconds after which zero calls has probability 1e-4 at the true rate."""
    profile = next(p for p in PROFILES if p.operation == incident.operation)
    expected, t = 0.0, incident.start
    while expected < math.log(1e4) and t < incident.end + 7 * DAY:
        expected += true_rate(profile, t)
        t += 60
    return t - incident.start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=35)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    incidents = suite_incidents(START)
    end = START + args.days * DAY
    records = list(generate(PROFILES, incidents, START, end, seed=args.seed))
    calls = [OperationCall.model_validate(r) for r in records]
    stats = ReplayStats()
    began = time.perf_counter()
    changes = list(replay(calls, DetectionConfig(), stats=stats))
    elapsed = time.perf_counter() - began
    print(
        f"replayed {stats.events:,} events ({stats.calls:,} calls, {len(PROFILES)} operations, "
        f"{args.days} days) in {elapsed:.2f} s: {stats.events / elapsed:,.0f} events/s"
    )
    report_incidents(incidents, changes)
    report_false_alarms(incidents, changes, args.days)


def report_incidents(incidents: list[Incident], changes: list[StatusChange]) -> None:
    print(f"\n{'incident':<40} {'detected':<9} {'status':<14} {'delay':>9}  target")
    for incident in incidents:
        found = [
            c
            for c in changes
            if c.operation == incident.operation
            and c.status.is_problem
            and incident.start <= c.at.timestamp() <= incident.end + MARGIN
        ]
        label = f"{incident.kind} {incident.operation}"
        if not incident.expected:
            verdict = "ok (no alert)" if not found else f"FALSE ALARM {found[0].status.value}"
            print(f"{label:<40} {verdict}")
            continue
        if not found:
            print(f"{label:<40} {'NO':<9}")
            continue
        first = found[0]
        delay = first.at.timestamp() - incident.start
        right = "" if first.status in incident.expected else " (WRONG KIND)"
        target = ""
        if incident.kind == "silence":
            ref = silence_reference(incident)
            ok = "ok" if delay <= 1.5 * ref else "SLOW"
            target = f"<= {1.5 * ref / 60:.0f} min ({ok})"
        given = first.status.value + right
        print(f"{label:<40} {'yes':<9} {given:<14} {delay / 60:>6.0f} min  {target}")


def report_false_alarms(incidents: list[Incident], changes: list[StatusChange], days: int) -> None:
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
    op_days = len(PROFILES) * (days - 14)
    print(
        f"\nfalse alarms after day 14: {len(false)} in {op_days} operation-days = "
        f"{100 * len(false) / op_days:.2f} per 100 operation-days (target <= 1)"
    )
    for change in false:
        when = f"{change.at:%Y-%m-%d %a %H:%M}"
        print(f"  {when} {change.operation}: {change.status.value}: {change.reason}")


if __name__ == "__main__":
    main()
