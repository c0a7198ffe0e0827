"""Who would be told of a status change, through which route and why: the routing of
the notifier (``Subscriptions.for_change``, the statuses, recovery and mute rules of
``grouping``) explained, like ``amtool config routes test``. Pure: ``now`` a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from detector.notify.subscriptions import Subscriber, Subscriptions
from detector.status import PROBLEMS, Status
from detector.timerange import TimeRange

_WEEK_MINUTES = 7 * 24 * 60


@dataclass(frozen=True, slots=True)
class Route:
    index: int  # Position in the file's subscribers (the file's own numbering).
    subscriber: Subscriber
    matched_by: str  # e.g. "operations 'Website.*'"
    told: bool  # Whether a change to the status is sent to this subscriber at all.
    why: str
    muted: bool  # In a mute window now: held until it ends.
    muted_until: datetime | None  # Its end (local time); None if muted all week round.
    group_wait: int
    repeat_interval: int


def routes(
    subs: Subscriptions,
    operation: str,
    integration: str | None,
    status: Status | None,
    now: float,
) -> list[Route]:
    """Every subscriber whose operations or integrations match, with the verdict."""
    found = []
    for index, subscriber in enumerate(subs.subscribers):
        matched_by = subscriber.matched_by(operation, integration)
        if matched_by is None:
            continue
        told, why = _verdict(subscriber, status)
        found.append(
            Route(
                index,
                subscriber,
                matched_by,
                told,
                why,
                subs.mute_window(subscriber, now) is not None,
                muted_until(subs, subscriber, now),
                subs.group_wait_of(subscriber),
                subs.repeat_interval_of(subscriber),
            )
        )
    return found


def _verdict(subscriber: Subscriber, status: Status | None) -> tuple[bool, str]:
    wanted = ", ".join(s.value for s in subscriber.statuses)
    if status is None:
        recovery = "and recovery" if subscriber.recovery else "no recovery"
        return True, f"told of {wanted} ({recovery})"
    if status in subscriber.statuses:
        return True, f"{status.value} is one of its statuses ({wanted})"
    if status is Status.OK:
        if subscriber.recovery:
            return True, "recovery: told when it is ok again after a problem it was told of"
        return False, "recovery: false, so not told when it is ok again"
    if status in PROBLEMS:
        return False, (
            f"{status.value} is not one of its statuses ({wanted}); told only if it eases "
            "from a problem it was already told of"
        )
    return False, f"{status.value} is never notified by itself"


def muted_until(subs: Subscriptions, subscriber: Subscriber, now: float) -> datetime | None:
    """The local time the subscriber's mute ends, if it is muted at ``now``."""
    window = subs.mute_window(subscriber, now)
    if window is None:
        return None
    local = subs.local_time(subscriber, now).replace(second=0, microsecond=0)
    for minutes in range(1, _WEEK_MINUTES + 1):
        later = local + timedelta(minutes=minutes)
        if subs.mute_window(subscriber, later.astimezone(UTC).timestamp()) is None:
            return later
    return None  # Muted all week round: never sent.


def unexpected(found: list[Route], expected: list[str]) -> str | None:
    """Why the subscribers told differ from ``expected`` (addresses, or plain e-mail
    addresses), or None if they are the same: for checking a file in CI."""
    want = {f"mailto:{e}" if "@" in e and ":" not in e else e for e in expected}
    told = {r.subscriber.address for r in found if r.told}
    if told == want:
        return None
    parts = []
    if want - told:
        parts.append(f"expected but not told: {', '.join(sorted(want - told))}")
    if told - want:
        parts.append(f"told but not expected: {', '.join(sorted(told - want))}")
    return "; ".join(parts)


def describe(
    found: list[Route], operation: str, integration: str | None, status: Status | None
) -> list[str]:
    """Lines for people: one per route, told or not, with the reason."""
    what = f"{operation}" + (f" (integration {integration})" if integration else "")
    head = f"{what}, status {status.value if status else 'any'}:"
    if not found:
        return [head, "  nobody: no subscriber's operations or integrations match"]
    lines = [head]
    for route in found:
        mark = "->" if route.told else "  "
        lines.append(
            f"  {mark} {route.subscriber.address}  (subscribers[{route.index}], "
            f"matched by {route.matched_by})"
        )
        lines.append(f"       {'told' if route.told else 'not told'}: {route.why}")
        if route.told:
            lines.append(f"       {_timing(route)}")
    told = sum(r.told for r in found)
    lines.append(f"  {told} of {len(found)} matching subscribers told")
    return lines


def _timing(route: Route) -> str:
    pacing = (
        f"grouped for {_duration(route.group_wait)}, repeated every "
        f"{_duration(route.repeat_interval)} while it stands"
    )
    if not route.muted:
        return f"not muted now; {pacing}"
    windows = ", ".join(_range_text(w) for w in route.subscriber.mute)
    if route.muted_until is None:
        return f"muted now ({windows}) and all week round: never sent"
    return f"muted now ({windows}): held until {route.muted_until:%a %Y-%m-%d %H:%M %Z}; {pacing}"


def _range_text(window: TimeRange) -> str:
    return (
        f"{window.days} {window.start // 60:02d}:{window.start % 60:02d}-"
        f"{window.end // 60:02d}:{window.end % 60:02d}"
    )


def _duration(seconds: int) -> str:
    """4h, 1h30m, 30s: as the file writes durations."""
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"
