"""The log as rows: one per followed event with its timeline, stuck events first,
filtered by status, type, record and entry, failures grouped per event."""

from __future__ import annotations

from typing import Any

from detector.masking import FieldRules
from detector.oplog import LogEntry, groups
from detector.timeline import EventEntry, page, rows, select

T0 = 1_800_000_000.0


def step(event: str, status: str, at: float, **fields: Any) -> LogEntry:
    base = {"id": f"{event}/{status}/{at}", "kind": "call", "operation": "Crm.Sync",
            "event_id": event, "status": status, "timestamp": T0 + at}  # fmt: skip
    return LogEntry.model_validate(base | fields)


def history() -> list[LogEntry]:
    """ev-1 retried then delivered, ev-2 stuck in processing for 20 min, ev-3 failed,
    ev-4 just received; a call without event_id and a status change."""
    return [
        step("ev-1", "received", 1, event_type="contact.updated", source_record="S-1"),
        step("ev-1", "processing", 2),
        step("ev-1", "retrying", 5, error_code="503", error_message="unavailable"),
        step("ev-1", "success", 9, destination_record="D-1"),
        step("ev-2", "received", 60, event_type="deal.updated", source_record="S-2"),
        step("ev-2", "processing", 60),  # The same second: still after received.
        step("ev-3", "received", 100, event_type="contact.updated"),
        step("ev-3", "error", 101, error_code="422", error_message="mail a@b.example"),
        step("ev-4", "received", 1250, event_type="contact.updated"),
        LogEntry(id="plain", kind="call", operation="Crm.Sync", timestamp=T0 + 300,
                 status="error", error_code="422", error_message="mail a@b.example"),
        LogEntry(id="change", kind="status_change", operation="Crm.Sync",
                 timestamp=T0 + 400, status="some_problems"),
    ]  # fmt: skip


def by_id(found: list[LogEntry]) -> dict[str, LogEntry]:
    return {e.event_id or e.id: e for e in found}


def test_an_event_is_one_row_with_its_timeline_in_order() -> None:
    found = by_id(rows(history(), end=T0 + 1260, stuck_after=900))
    assert len(found) == 6
    ev1 = found["ev-1"]
    assert isinstance(ev1, EventEntry)
    assert [(s.status, s.timestamp - T0) for s in ev1.steps] == [
        ("received", 1), ("processing", 2), ("retrying", 5), ("success", 9)
    ]  # fmt: skip
    assert (ev1.status, ev1.first_seen, ev1.timestamp) == ("success", T0 + 1, T0 + 9)
    assert (ev1.event_type, ev1.source_record, ev1.destination_record) == (
        "contact.updated", "S-1", "D-1"
    )  # fmt: skip
    assert ev1.error_code is None  # Delivered: the retry's error is history.
    assert not ev1.stuck
    assert [s.status for s in found["ev-2"].steps] == ["received", "processing"]


def test_stuck_events_come_first_and_are_a_status_to_filter_by() -> None:
    every = rows(history(), end=T0 + 1260, stuck_after=900)
    found, total = page(every, statuses=None, kinds=None, number=1)
    assert total == 6
    assert [e.event_id or e.id for e in found] == [
        "ev-2",
        "ev-4",
        "change",
        "plain",
        "ev-3",
        "ev-1",
    ]
    assert [e.event_id for e in found if isinstance(e, EventEntry) and e.stuck] == ["ev-2"]
    stuck, n = page(every, statuses={"stuck"}, kinds=None, number=1)
    assert (n, stuck[0].event_id) == (1, "ev-2")
    # Not yet past the threshold at an earlier range end: not stuck.
    earlier = rows([e for e in history() if e.timestamp <= T0 + 900], end=T0 + 900, stuck_after=900)
    assert not any(isinstance(e, EventEntry) and e.stuck for e in earlier)


def test_filters_by_type_record_status_and_entry() -> None:
    every = rows(history(), end=T0 + 1260, stuck_after=900)

    def ids(**filters: Any) -> list[str]:
        return sorted(e.event_id or e.id for e in select(every, **filters))

    assert ids(event_types={"contact.updated"}) == ["ev-1", "ev-3", "ev-4"]
    assert ids(record="S-2") == ["ev-2"]
    assert ids(record="D-1") == ["ev-1"]
    assert ids(statuses={"error"}) == ["ev-3", "plain"]
    assert ids(kinds={"status_change"}) == ["change"]
    # A failure group's example (a step's id) opens the event holding it.
    assert ids(entry="ev-1/retrying/5") == ["ev-1"]
    assert ids(entry="nothing") == []


def test_failures_are_grouped_once_per_event_with_an_example_to_open() -> None:
    every = rows(history(), end=T0 + 1260, stuck_after=900)
    grouped = groups(every)
    assert [(g.error_code, g.count) for g in grouped] == [("422", 2)]
    assert (grouped[0].first, grouped[0].last) == (T0 + 101, T0 + 300)
    assert select(every, entry=grouped[0].example)[0].id == "plain"


def test_masking_reaches_every_step() -> None:
    every = rows(history(), end=T0 + 1260, stuck_after=900)
    ev3 = by_id(every)["ev-3"].masked(FieldRules())
    assert isinstance(ev3, EventEntry)
    assert ev3.error_message == "mail [email]"
    assert [s.error_message for s in ev3.steps] == [None, "mail [email]"]
    assert "a@b.example" not in ev3.model_dump_json()
