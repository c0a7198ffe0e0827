"""The producer library's pure buffer: what leaves decodes under the event contract to
exactly what was reported; bounds hold and every dropped call is counted."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from detector.events import decode
from detector.reporting import Outgoing, ReportBuffer

T0 = 1_790_000_000.0

reports = st.lists(
    st.tuples(
        st.sampled_from(["A.Sub", "B.Sync", "C.Pay"]),
        st.sampled_from(["success", "error", "retrying"]),
        st.floats(0, 5, allow_nan=False),
        st.sampled_from([None, "web", "crm"]),
    ),
    max_size=300,
)


def tallies(items: list[Outgoing]) -> Counter[tuple[str, str]]:
    out: Counter[tuple[str, str]] = Counter()
    for item in items:
        call = decode(item.value)
        assert item.key == call.operation.encode()
        calls, errors, retries = call.tally()
        assert item.calls == calls
        out[(call.operation, "calls")] += calls
        out[(call.operation, "errors")] += errors
        out[(call.operation, "retries")] += retries
    return out


def fill(buffer: ReportBuffer, calls: list[tuple[str, str, float, str | None]]) -> None:
    for operation, status, offset, integration in calls:
        buffer.report(
            operation,
            ok=status == "success",
            retrying=status == "retrying",
            at=T0 + offset,
            integration=integration,
            error_code="E1",
        )


@given(reports)
def test_what_leaves_counts_exactly_what_was_reported(
    calls: list[tuple[str, str, float, str | None]],
) -> None:
    buffer = ReportBuffer()
    fill(buffer, calls)
    sent = buffer.drain(T0 + 10, limit=10_000, final=True)
    expected: Counter[tuple[str, str]] = Counter()
    for operation, status, _, _ in calls:
        expected[(operation, "calls")] += 1
        expected[(operation, "errors")] += status == "error"
        expected[(operation, "retries")] += status == "retrying"
    assert tallies(sent) == +expected
    assert not buffer
    assert buffer.pending_calls == 0
    # One message per failure, one per operation, integration and second of successes.
    groups = {(op, integ, int(T0 + off)) for op, s, off, integ in calls if s == "success"}
    assert len(sent) == len(groups) + sum(s != "success" for _, s, _, _ in calls)


@given(reports, st.integers(1, 5), st.integers(200, 3000))
@settings(max_examples=60)
def test_bounds_hold_and_every_call_is_accounted_for(
    calls: list[tuple[str, str, float, str | None]], max_groups: int, max_bytes: int
) -> None:
    buffer = ReportBuffer(max_groups=max_groups, max_bytes=max_bytes)
    fill(buffer, calls)
    assert buffer.pending_groups <= max_groups
    assert buffer.pending_bytes <= max_bytes
    counters = buffer.counters
    assert counters.reported == len(calls)
    assert counters.reported == buffer.pending_calls + sum(counters.dropped.values())
    # Kafka away: a drained batch comes back, still within the bounds, still accounted.
    batch = buffer.drain(T0 + 10, limit=7, final=True)
    buffer.requeue(batch)
    assert buffer.pending_bytes <= max_bytes
    assert counters.reported == buffer.pending_calls + sum(counters.dropped.values())


def test_successes_of_the_current_second_wait_unless_final() -> None:
    buffer = ReportBuffer()
    for _ in range(3):
        buffer.report("A", ok=True, at=T0 + 0.5)
        buffer.report("A", ok=True, at=T0 + 1.5)
    first = buffer.drain(T0 + 1.7, limit=100)
    assert [(decode(i.value).timestamp, i.calls) for i in first] == [(T0, 3)]
    assert buffer.drain(T0 + 1.9, limit=100) == []
    assert [i.calls for i in buffer.drain(T0 + 1.9, limit=100, final=True)] == [3]


def test_drain_respects_the_limit_and_keeps_the_rest() -> None:
    buffer = ReportBuffer()
    for i in range(10):
        buffer.report("A", ok=False, at=T0, event_id=i)
    assert len(buffer.drain(T0, limit=4)) == 4
    rest = buffer.drain(T0, limit=100)
    assert [decode(i.value).event_id for i in rest] == [str(i) for i in range(4, 10)]


def test_evidence_is_kept_and_cut_to_the_contract() -> None:
    buffer = ReportBuffer()
    buffer.report(
        "Website.Subscribe",
        ok=False,
        at=T0,
        integration="website",
        error_code=503,
        error_message="x" * 20_000,
        source_record=7781,
        payload={"email": "john@", 1: object()},
    )
    (item,) = buffer.drain(T0, limit=10)
    call = decode(item.value)
    assert (call.status, call.error_code, call.source_record) == ("error", "503", "7781")
    assert call.error_message is not None
    assert len(call.error_message) == 10_000
    assert call.payload["email"] == "john@"
    assert call.payload["1"].startswith("<object")


def test_an_oversized_payload_is_left_out_and_counted_but_the_failure_kept() -> None:
    buffer = ReportBuffer(max_record_bytes=1000)
    buffer.report("A", ok=False, at=T0, payload="p" * 5000, error_code="E")
    (item,) = buffer.drain(T0, limit=10)
    call = decode(item.value)
    assert call.payload is None
    assert call.error_code == "E"
    assert buffer.counters.payloads_omitted == 1


def test_invalid_reports_are_counted_not_raised() -> None:
    buffer = ReportBuffer()
    assert not buffer.report("", ok=True, at=T0)
    assert not buffer.report("x" * 201, ok=False, at=T0)
    assert not buffer.report(None, ok=True, at=T0)
    assert not buffer.report("A", ok=True, at=0)
    assert not buffer.report("Web\u202eSite", ok=True, at=T0)  # A bidi control character.
    assert not buffer.report("A", ok=False, at=T0, integration="i" * 201)
    assert buffer.counters.dropped["invalid"] == 6
    assert not buffer


def test_delivered_and_rejected_are_counted() -> None:
    buffer = ReportBuffer()
    buffer.report("A", ok=True, at=T0)
    buffer.report("A", ok=True, at=T0)
    buffer.report("A", ok=False, at=T0)
    failure, group = buffer.drain(T0 + 1, limit=10)  # Records first, then groups.
    buffer.delivered([group])
    buffer.drop([failure], "rejected")
    c = buffer.counters
    assert (c.reported, c.sent, c.dropped["rejected"]) == (3, 2, 1)


def test_a_success_with_an_event_id_is_not_folded_into_a_count() -> None:
    buffer = ReportBuffer()
    buffer.report("A", ok=True, at=T0, event_id="evt-1", payload={"big": "x"}, duration_ms=12)
    buffer.report("A", ok=True, at=T0)
    followed, group = buffer.drain(T0 + 1, limit=10)
    call = decode(followed.value)
    assert (call.status, call.event_id, call.duration_ms, call.payload) == (
        "success",
        "evt-1",
        12,
        None,
    )
    assert decode(group.value).count == 1
