"""Status changes as Alertmanager alerts (the v2 API's ``postableAlerts``), pure.

An alert is one operation in one problem status: labels ``alertname``, ``operation``,
``integration``, ``status``, ``severity``. It is posted with ``endsAt`` a few repeat
intervals ahead and posted again each repeat interval while the problem stands
(``grouping`` sends those reminders), so Alertmanager resolves it by itself if the
detector goes away; a change away from a status posts that status's alert with
``endsAt`` = now, which resolves it at once. Grouping, routing, silencing and
inhibition are left to Alertmanager.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from detector.notify.grouping import Notification
from detector.notify.render import figures
from detector.status import PROBLEMS, Status, StatusChange

ALERTNAME = "IntegrationOperationProblem"  # As the Prometheus rule: one route for both.
SEVERITY = {
    Status.MANY_PROBLEMS: "critical",
    Status.NO_CALLS: "critical",
    Status.SOME_PROBLEMS: "warning",
}
# Alerts live this many repeat intervals past their last post (Prometheus uses 4 too):
# one lost refresh does not resolve them.
LIFETIMES = 4


def alerts(note: Notification, links: dict[str, str], now: float) -> list[dict[str, Any]]:
    """The body to POST to ``/api/v2/alerts``: for each change, its status's alert firing
    (if a problem) and the operation's other problem statuses resolved; for each reminder,
    its alert again with a later ``endsAt``."""
    ends = now + LIFETIMES * note.repeat_interval
    body: list[dict[str, Any]] = []
    for change in note.changes:
        if change.status in PROBLEMS:
            body.append(_alert(change, change.status, links, change.at.timestamp(), ends))
        # Whatever status Alertmanager last heard of for this operation (a change may
        # replace another within the group wait), it is over now.
        body += [
            _alert(change, status, links, now, now) for status in sorted(PROBLEMS - {change.status})
        ]
    for change in note.reminders:
        if change.status in PROBLEMS:
            body.append(_alert(change, change.status, links, change.at.timestamp(), ends))
    return body


def _alert(
    change: StatusChange, status: Status, links: dict[str, str], starts: float, ends: float
) -> dict[str, Any]:
    labels = {
        "alertname": ALERTNAME,
        "operation": change.operation,
        "status": status.value,
        "severity": SEVERITY[status],
    }
    if change.integration:
        labels["integration"] = change.integration
    link = links.get(change.operation) or change.log_url
    annotations = {"summary": f"{change.operation}: {status.label}"}
    if status is change.status:
        annotations["reason"] = change.reason
        if change.observed or change.expected:
            annotations["observed_vs_expected"] = (
                f"observed {figures(change.observed) or '-'}; "
                f"expected {figures(change.expected) or '-'}"
            )
        if link:
            annotations["log_url"] = link
    alert: dict[str, Any] = {
        "labels": labels,
        "annotations": annotations,
        "startsAt": _iso(min(starts, ends)),
        "endsAt": _iso(ends),
    }
    if link:
        alert["generatorURL"] = link
    return alert


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat().replace("+00:00", "Z")
