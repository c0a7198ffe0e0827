"""What replaying one's own history says about the false-alarm budget, before anyone is
subscribed: per operation, the problem episodes the detector would have raised, alarms
per 100 days, and how long the evidence had run when each was raised.

Pure: status changes in, a report out (``detector replay --report`` prints it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from detector import wording
from detector.status import Status, StatusChange

DAY = 86400.0


@dataclass(slots=True)
class Episode:
    """From a healthy status into problems, until healthy again (``end`` None: still on)."""

    start: datetime
    first: Status
    reason: str
    evidence_minutes: int | None  # How long the evidence had run when it was raised.
    worst: Status
    end: datetime | None = None


@dataclass(slots=True)
class OperationReport:
    operation: str
    days: float  # From the operation's first judged window to the end of the history.
    episodes: list[Episode] = field(default_factory=list)

    @property
    def per_100_days(self) -> float:
        return 100 * len(self.episodes) / self.days if self.days > 0 else 0.0


def backtest(changes: Iterable[StatusChange], until: datetime) -> list[OperationReport]:
    """Episodes per operation from its status changes in time order; ``until`` is the
    end of the replayed history."""
    reports: dict[str, OperationReport] = {}
    open_: dict[str, Episode] = {}
    for change in changes:
        report = reports.get(change.operation)
        if report is None:
            days = (until - change.at).total_seconds() / DAY
            report = reports[change.operation] = OperationReport(change.operation, days)
        current = open_.get(change.operation)
        if change.status.is_problem:
            if current is None:
                minutes = change.observed.get("minutes")
                episode = Episode(
                    change.at,
                    change.status,
                    change.reason,
                    int(minutes) if isinstance(minutes, int | float) else None,
                    change.status,
                )
                open_[change.operation] = episode
                report.episodes.append(episode)
            elif _severity(change.status) > _severity(current.worst):
                current.worst = change.status
        elif current is not None:
            current.end = change.at
            del open_[change.operation]
    return sorted(reports.values(), key=lambda r: (-r.per_100_days, r.operation))


def _severity(status: Status) -> int:
    return {Status.SOME_PROBLEMS: 1}.get(status, 2)


def render(reports: list[OperationReport], budget: float = 1.0) -> list[str]:
    """The report as lines of text: a table, then each operation's episodes."""
    lines = [
        f"{'operation':<32} {'days':>6} {'episodes':>8} {'per 100 days':>12}  "
        f"(budget {budget:g} per 100 operation-days)"
    ]
    total_days = sum(r.days for r in reports)
    total = sum(len(r.episodes) for r in reports)
    for report in reports:
        mark = "  over budget" if report.per_100_days > budget and report.days >= 1 else ""
        lines.append(
            f"{report.operation:<32} {report.days:>6.1f} {len(report.episodes):>8} "
            f"{report.per_100_days:>12.2f}{mark}"
        )
    rate = 100 * total / total_days if total_days else 0.0
    lines.append(f"{'all operations':<32} {total_days:>6.1f} {total:>8} {rate:>12.2f}")
    for report in reports:
        for ep in report.episodes:
            lasted = (
                "still on"
                if ep.end is None
                else wording.duration((ep.end - ep.start).total_seconds())
            )
            evidence = "" if ep.evidence_minutes is None else f" after {ep.evidence_minutes} min"
            worst = "" if ep.worst is ep.first else f", worst {ep.worst.value}"
            lines.append(
                f"  {ep.start:%Y-%m-%d %a %H:%M} {report.operation}: {ep.first.value}{evidence}"
                f" ({lasted}{worst}): {ep.reason}"
            )
    return lines
