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


# (words in error codes, the likely cause): the first that matches wins.
HINTS = (
    (
        ("auth", "401", "403", "token", "credential", "forbidden", "unauthor"),
        "the errors look like rejected credentials: check API keys, tokens and passwords",
    ),
    (
        ("429", "rate", "throttl", "quota", "too_many"),
        "the errors look like a rate limit: the destination is refusing the volume we send",
    ),
    (
        (
            "timeout",
            "timed_out",
            "500",
            "502",
            "503",
            "504",
            "unavailable",
            "connection",
            "refused",
        ),
        "the errors look like the destination being down or overloaded: check that service",
    ),
    (
        ("valid", "400", "422", "format", "schema", "parse", "missing", "required"),
        "the errors look like a data or format change: check what the sender started sending",
    ),
)


def cause_hint(error_code: str) -> str | None:
    """The likely class of cause an error code points at, in words; None if unknown."""
    code = error_code.lower()
    for words, advice in HINTS:
        if any(w in code for w in words):
            return advice
    return None
