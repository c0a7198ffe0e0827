"""Figures in words a manager reads in a mail: "4 h 10 min", "1.2%", "2,400 calls"."""

from __future__ import annotations

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours >= 48:
        return f"{hours / 24:.1f} days"
    return f"{hours} h" if rest == 0 else f"{hours} h {rest} min"


def percent(ratio: float) -> str:
    value = ratio * 100
    if value >= 10 or value == 0:
        return f"{value:.0f}%"
    if value >= 1:
        return f"{value:.1f}%"
    return f"{value:.2f}%"


def calls(n: float) -> str:
    count = round(n)
    return f"{count:,} call" + ("" if count == 1 else "s")


def about(expected: float) -> str:
    """An expected count, rounded as people say it."""
    if expected < 10:
        return f"{expected:.1f}".rstrip("0").rstrip(".")
    return f"{round(expected):,}"


def when(weekday: int, hour: int) -> str:
    return f"at this time on a {WEEKDAYS[weekday]}"
