"""The pure operation log: entries built from calls and changes, filtered and paged."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from detector.events import OperationCall
from detector.oplog import LogEntry, entry_fields, from_call, from_change, with_payload
from detector.status import Status, StatusChange
from detector.timeline import page

T0 = 1_800_000_000.0


def _call(**fields: object) -> OperationCall:
    base: dict[str, object] = {"operation": "orders.sync", "timestamp": T0, "status": "error"}
    return OperationCall.model_validate({**base, **fields})


def test_a_failed_call_keeps_its_records_error_and_event_id() -> None:
    call = _call(
        event_id="ev-1",
        source_record=42,
        destination_record="D-7",
        error_code=500,
        error_message="timeout",
        payload={"a": 1},
    )
    entry = from_call(call, "operation-calls", 0, 10)
    assert (entry.event_id, entry.kind, entry.status) == ("ev-1", "call", "error")
    assert (entry.source_record, entry.destination_record) == ("42", "D-7")
    assert (entry.error_code, entry.error_message) == ("500", "timeout")
    assert entry.payload_state == "present"
    assert entry.payload is None


def test_each_step_of_an_event_is_an_entry_of_its_own_with_a_stable_id() -> None:
    steps = [_call(event_id="ev-1", status=s, event_type="deal.updated")
             for s in ("received", "processing", "retrying", "delivered")]  # fmt: skip
    entries = [from_call(c, "operation-calls", 0, i) for i, c in enumerate(steps)]
    assert [e.status for e in entries] == ["received", "processing", "retrying", "success"]
    assert {e.event_id for e in entries} == {"ev-1"}
    assert {e.event_type for e in entries} == {"deal.updated"}
    assert [e.count for e in entries] == [1, 1, 1, 1]
    assert len({e.id for e in entries}) == 4
    # Re-delivered from another offset, a step keeps its id.
    assert from_call(steps[0], "operation-calls", 3, 99).id == entries[0].id


def test_without_event_id_the_id_is_stable_per_message_and_distinct_across_messages() -> None:
    first = from_call(_call(), "operation-calls", 0, 10)
    assert first.id == from_call(_call(), "operation-calls", 0, 10).id
    assert first.id != from_call(_call(), "operation-calls", 0, 11).id
    assert first.id != from_call(_call(), "operation-calls", 1, 10).id


@pytest.mark.parametrize(
    ("fields", "status", "count"),
    [
        ({"status": "retrying"}, "retrying", 1),
        ({"count": 5, "errors": 2, "status": None}, "error", 5),
        ({"count": 3, "status": "retrying"}, "retrying", 3),
    ],
)
def test_status_and_count_follow_the_call(
    fields: dict[str, object], status: str, count: int
) -> None:
    entry = from_call(_call(**fields), "operation-calls", 0, 1)
    assert (entry.status, entry.count, entry.payload_state) == (status, count, "none")


def test_a_status_change_becomes_an_entry_with_its_reason() -> None:
    change = StatusChange(
        id="chg-1",
        operation="orders.sync",
        previous=Status.OK,
        status=Status.MANY_PROBLEMS,
        at=datetime.fromtimestamp(T0, UTC),
        reason="9 of 10 calls failed",
    )
    entry = from_change(change)
    assert (entry.id, entry.kind, entry.timestamp) == ("chg-1", "status_change", T0)
    assert (entry.status, entry.error_message) == (
        Status.MANY_PROBLEMS.value,
        "9 of 10 calls failed",
    )


def _entry(n: int, status: str = "error", kind: str = "call") -> LogEntry:
    return LogEntry(id=f"e{n}", kind=kind, operation="o", timestamp=T0 + n, status=status)


def test_pages_are_newest_first_and_cover_every_entry_once() -> None:
    entries = [_entry(n) for n in range(7)]
    pages = [page(entries, statuses=None, kinds=None, number=k, size=3) for k in (1, 2, 3)]
    assert [total for _, total in pages] == [7, 7, 7]
    ids = [e.id for found, _ in pages for e in found]
    assert ids == [f"e{n}" for n in range(6, -1, -1)]


def test_filters_by_status_and_kind() -> None:
    entries = [_entry(0), _entry(1, "retrying"), _entry(2, "ok", "status_change")]
    found, total = page(entries, statuses={"retrying", "ok"}, kinds={"call"}, number=1)
    assert total == 1
    assert [e.id for e in found] == ["e1"]


@pytest.mark.parametrize(
    ("payloads", "expired_before", "state", "payload"),
    [
        ({"e5": {"a": 1}}, T0, "present", {"a": 1}),
        ({}, T0 + 6, "expired", None),
        ({}, T0 + 5, "unavailable", None),
    ],
)
def test_a_missing_payload_is_expired_only_past_the_retention(
    payloads: dict[str, object], expired_before: float, state: str, payload: object
) -> None:
    entry = _entry(5).model_copy(update={"payload_state": "present"})
    joined = with_payload(entry, payloads, expired_before)
    assert (joined.payload_state, joined.payload) == (state, payload)


def test_an_entry_that_never_had_a_payload_stays_without_one() -> None:
    assert with_payload(_entry(5), {"e5": {"a": 1}}, T0).payload_state == "none"


def test_an_undecoded_call_without_timestamp_is_refused() -> None:
    call = OperationCall.model_validate({"operation": "orders.sync", "status": "error"})
    with pytest.raises(ValueError, match="no timestamp"):
        from_call(call, "operation-calls", 0, 1)


def test_the_log_filters_by_event_type_and_record_and_groups_repeated_failures() -> None:
    from detector.oplog import groups

    def entry(i: int, **fields: object) -> LogEntry:
        base = {"id": f"e{i}", "kind": "call", "operation": "Crm.Sync", "status": "error"}
        base |= {"timestamp": 100.0 + i, "error_code": "401", "error_message": "Unauthorized"}
        return LogEntry.model_validate(base | fields)

    entries = [entry(i, event_type="contact.updated", source_record=f"s{i}") for i in range(100)]
    entries += [
        entry(100, error_code="422", error_message="missing email", destination_record="d1")
    ]
    entries += [entry(101, status="success", event_type="deal.updated")]
    found, total = page(entries, statuses=None, kinds=None, number=1, event_types={"deal.updated"})
    assert (total, [e.id for e in found]) == (1, ["e101"])
    assert [e.id for e in page(entries, statuses=None, kinds=None, number=1, record="s7")[0]] == [
        "e7"
    ]
    assert [e.id for e in page(entries, statuses=None, kinds=None, number=1, record="d1")[0]] == [
        "e100"
    ]
    grouped = groups(entries)
    assert [(g.error_code, g.count) for g in grouped] == [("401", 100), ("422", 1)]
    assert (grouped[0].first, grouped[0].last, grouped[0].example) == (100.0, 199.0, "e99")


_TEXT = st.one_of(st.none(), st.text(max_size=20), st.integers(-5, 5))
_CALLS = st.fixed_dictionaries(
    {"operation": st.text(min_size=1, max_size=20)},
    optional={
        "timestamp": st.one_of(st.floats(0, 4e9), st.integers(0, 4 * 10**12)),
        "status": st.sampled_from(["success", "error", "retrying", "received", "processing"]),
        "integration": st.one_of(st.none(), st.text(max_size=10)),
        "event_id": _TEXT,
        "event_type": _TEXT,
        "error_code": _TEXT,
        "error_message": _TEXT,
        "duration_ms": st.one_of(st.none(), st.integers(0, 10**20), st.floats(0)),
        "source_record": _TEXT,
        "destination_record": _TEXT,
        "payload": st.one_of(st.none(), st.dictionaries(st.text(max_size=3), st.integers())),
        "count": st.integers(1, 1000),
        "errors": st.integers(0, 1000),
    },
)


@given(_CALLS, st.floats(1e9, 2e9), st.integers(0, 2**31), st.integers(0, 2**62))
def test_the_logged_json_is_the_entry_s_own(
    fields: dict[str, object], fallback: float, partition: int, offset: int
) -> None:
    try:
        call = OperationCall.model_validate(fields)
    except ValueError:
        return  # Not a call: the ingest dead-letters it, nothing is logged.
    if call.timestamp is None:
        call = call.model_copy(update={"timestamp": fallback})
    logged = orjson.dumps(entry_fields(call, "operation-calls", partition, offset))
    entry = from_call(call, "operation-calls", partition, offset)
    assert logged == entry.model_dump_json().encode()
    assert LogEntry.model_validate_json(logged) == entry
