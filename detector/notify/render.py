"""The words of a notification: subject, plain text and HTML (everything from events
escaped), with a hint at the likely class of cause where the error codes show one."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from detector import wording
from detector.masking import mask_text
from detector.notify.grouping import Notification
from detector.status import Status, StatusChange


@dataclass(frozen=True, slots=True)
class Mail:
    subject: str
    text: str
    html: str


def hint(change: StatusChange) -> str | None:
    codes: dict[str, Any] = change.observed.get("error_codes") or {}
    if not codes or change.status is Status.OK:
        return None
    return wording.cause_hint(max(codes, key=lambda c: codes[c]))


def subject(notification: Notification) -> str:
    items = [*notification.changes, *notification.reminders]
    if len(items) == 1:
        change = items[0]
        again = "still " if notification.reminders else ""
        return f"[{again}{change.status.label}] {change.operation}" + (
            f" ({change.integration})" if change.integration else ""
        )
    worst = sum(c.status.is_problem for c in items)
    return (
        f"{len(items)} integration statuses changed ({worst} with problems): "
        + ", ".join(f"{c.operation} {c.status.label}" for c in items[:3])
        + ("…" if len(items) > 3 else "")
    )


def render(notification: Notification, links: dict[str, str]) -> Mail:
    sections = [(c, False) for c in notification.changes] + [
        (c, True) for c in notification.reminders
    ]
    text = "\n\n".join(_text(c, again, links.get(c.operation)) for c, again in sections)
    body = "".join(_html(c, again, links.get(c.operation)) for c, again in sections)
    return Mail(
        subject(notification),
        text + "\n\n-- \nIntegration-health detector\n",
        f'<!doctype html><html><body style="font-family:sans-serif">{body}'
        '<p style="color:#666">Integration-health detector</p></body></html>',
    )


def _lines(change: StatusChange, again: bool) -> list[tuple[str, str]]:
    where = change.operation + (f" ({change.integration})" if change.integration else "")
    was = change.previous.label if change.previous else "new"
    status = f"{change.status.label} (was {was})" + (", not resolved yet" if again else "")
    rows = [
        ("Operation", where),
        ("Status", status),
        ("Since", f"{change.at:%Y-%m-%d %H:%M} UTC"),
        ("What happened", mask_text(change.reason)),
    ]
    # Error codes come from the events: masked like the log view masks them.
    if change.observed:
        rows.append(("Observed", mask_text(figures(change.observed))))
    if change.expected:
        rows.append(("Expected", mask_text(figures(change.expected))))
    advice = hint(change)
    if advice:
        rows.append(("Likely cause", advice))
    return rows


def _text(change: StatusChange, again: bool, link: str | None) -> str:
    lines = [f"{name}: {value}" for name, value in _lines(change, again)]
    if link:
        lines.append(f"Log of the calls around it: {link}")
    return "\n".join(lines)


def _html(change: StatusChange, again: bool, link: str | None) -> str:
    rows = "".join(
        f'<tr><th style="text-align:left;padding-right:1em">{html.escape(name)}</th>'
        f"<td>{html.escape(value)}</td></tr>"
        for name, value in _lines(change, again)
    )
    anchor = (
        f'<p><a href="{html.escape(link, quote=True)}">Open the log of the calls around it</a></p>'
        if link
        else ""
    )
    title = f"{html.escape(change.operation)}: {html.escape(change.status.label)}"
    return f"<h2>{title}</h2><table>{rows}</table>{anchor}"


def figures(values: dict[str, Any]) -> str:
    """Observed or expected figures in words: ``calls 12, errors 12``."""
    return ", ".join(
        f"{key.replace('_', ' ')} {figures(value) if isinstance(value, dict) else value}"
        for key, value in values.items()
    )
