"""The log as a person reads it: one row per event, not one per status message.

The operation log keeps every status message of an event followed by ``event_id`` as an
entry of its own (entries are never changed). Shown, an event is one row: its current
status, its records, and its timeline (received 10:00:01, processing 10:00:02,
delivered 10:00:09). An event whose last status is ``received`` or ``processing`` and
that heard nothing more for the operation's stuck threshold is stuck, and stuck events
come first. Calls without ``event_id`` and status changes stay rows of their own.

Pure: rows from entries already read (and masked), filtered and paged.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Self

from pydantic import BaseModel, ConfigDict

from detector.events import UNDER_WAY
from detector.masking import FieldRules, mask_field
from detector.oplog import PAGE_SIZE, LogEntry

# Within one second, a step of the lifecycle comes after the ones before it.
_ORDER = {"received": 0, "processing": 1, "retrying": 2, "success": 3, "error": 3}


class Step(BaseModel):
    """One status message of an event."""

    model_config = ConfigDict(frozen=True)

    id: str  # The entry's id: a failure group's example opens the event that holds it.
    status: str
    timestamp: float
    error_code: str | None = None
    error_message: str | None = None


class EventEntry(LogEntry):
    """A followed event as one row: its newest step's status, its records and type as
    last given, the newest payload sent with it, and every step in time order."""

    first_seen: float
    steps: list[Step]
    stuck: bool = False

    def masked(self, rules: FieldRules, *, fields: bool = True, payload: bool = True) -> Self:
        shown = super().masked(rules, fields=fields, payload=payload)
        if not fields:
            return shown
        steps = [
            s.model_copy(update={"error_message": mask_field("error_message", message, rules)})
            if (message := s.error_message) is not None
            else s
            for s in self.steps
        ]
        return shown.model_copy(update={"steps": steps})


def rows(entries: Iterable[LogEntry], end: float, stuck_after: float) -> list[LogEntry]:
    """Every followed event folded into one ``EventEntry``; other entries as they are.
    An event is stuck when its last step is received or processing and ``end`` (the
    range end, at most now) is more than ``stuck_after`` seconds past it."""
    out: list[LogEntry] = []
    events: dict[str, list[LogEntry]] = {}
    for e in entries:
        if e.kind == "call" and e.event_id is not None:
            events.setdefault(e.event_id, []).append(e)
        else:
            out.append(e)
    for steps in events.values():
        steps.sort(key=lambda s: (s.timestamp, _ORDER.get(s.status, 4), s.id))
        out.append(_event(steps, end, stuck_after))
    return out


def _event(steps: list[LogEntry], end: float, stuck_after: float) -> EventEntry:
    last = steps[-1]

    def newest(name: str) -> str | None:
        return next((v for s in reversed(steps) if (v := getattr(s, name)) is not None), None)

    carrying = next((s for s in reversed(steps) if s.payload_state != "none"), last)
    return EventEntry(
        **last.model_dump(exclude={"payload", "payload_state", "event_type", "source_record",
                                   "destination_record", "error_code", "error_message"}),
        event_type=newest("event_type"),
        source_record=newest("source_record"),
        destination_record=newest("destination_record"),
        error_code=newest("error_code") if last.status in ("error", "retrying") else None,
        error_message=newest("error_message") if last.status in ("error", "retrying") else None,
        payload=carrying.payload,
        payload_state=carrying.payload_state,
        first_seen=steps[0].timestamp,
        steps=[Step(id=s.id, status=s.status, timestamp=s.timestamp, error_code=s.error_code,
                    error_message=s.error_message) for s in steps],
        stuck=last.status in UNDER_WAY and end - last.timestamp > stuck_after,
    )  # fmt: skip


def select(
    rows: Iterable[LogEntry],
    *,
    statuses: set[str] | None = None,
    kinds: set[str] | None = None,
    event_types: set[str] | None = None,
    record: str | None = None,
    entry: str | None = None,
) -> list[LogEntry]:
    """The rows that pass the filters. ``stuck`` is a status; ``record`` the source or
    destination record id; ``entry`` the id of a row or of one of its steps (a failure
    group's example)."""

    def passes(row: LogEntry) -> bool:
        steps = row.steps if isinstance(row, EventEntry) else []
        return (
            (not statuses or row.status in statuses or (_stuck(row) and "stuck" in statuses))
            and (not kinds or row.kind in kinds)
            and (not event_types or row.event_type in event_types)
            and (not record or record in (row.source_record, row.destination_record))
            and (not entry or entry == row.id or any(s.id == entry for s in steps))
        )

    return [row for row in rows if passes(row)]


def page(
    rows: Iterable[LogEntry],
    *,
    statuses: set[str] | None,
    kinds: set[str] | None,
    number: int,
    size: int = PAGE_SIZE,
    event_types: set[str] | None = None,
    record: str | None = None,
    entry: str | None = None,
) -> tuple[list[LogEntry], int]:
    """The rows that pass the filters (``select``), stuck events first (longest stuck
    first), then newest first: one page, and the total that matched."""

    def order(row: LogEntry) -> tuple[bool, float, str]:
        if _stuck(row):
            return (True, -row.timestamp, row.id)
        return (False, row.timestamp, row.id)

    found = select(rows, statuses=statuses, kinds=kinds, event_types=event_types,
                   record=record, entry=entry)  # fmt: skip
    found.sort(key=order, reverse=True)
    start = max(0, number - 1) * size
    return found[start : start + size], len(found)


def _stuck(row: LogEntry) -> bool:
    return isinstance(row, EventEntry) and row.stuck
