"""The lifecycle core: each event counted once, stuck events, retries that never
resolve, runs of one error, failures at the same time every day."""

from __future__ import annotations

import itertools
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from detector.events import OperationCall
from detector.lifecycle import findings
from detector.lifecycle.durations import Durations
from detector.lifecycle.history import FailureDays, recurring
from detector.lifecycle.tracker import Lifecycle, Policy, Snapshot
from detector.status import Status

T0 = 1_772_460_000  # 2026-03-02 14:00 UTC, a window boundary.
UTC = ZoneInfo("UTC")
POLICY = Policy()


def msg(ts: float, status: str, event_id: str | None = None, **extra: Any) -> OperationCall:
    return OperationCall(operation="Op", timestamp=ts, status=status, event_id=event_id, **extra)  # type: ignore[arg-type]


def feed(life: Lifecycle, calls: list[OperationCall], policy: Policy = POLICY) -> list[int]:
    totals = [0, 0, 0]
    for call in calls:
        for i, n in enumerate(life.observe(call, policy)):
            totals[i] += n
    return totals


def test_an_event_through_its_lifecycle_is_one_call_and_leaves() -> None:
    life = Lifecycle()
    totals = feed(
        life,
        [
            msg(T0, "received", "e1"),
            msg(T0 + 1, "processing", "e1"),
            msg(T0 + 4, "delivered", "e1"),
        ],
    )
    assert totals == [1, 0, 0]
    assert life.in_flight == 0
    assert life.durations.total == 1


def test_retrying_then_delivered_is_one_call_one_retry_no_failure() -> None:
    life = Lifecycle()
    calls = [msg(T0, "received", "e"), msg(T0 + 5, "retrying", "e", error_code="503")]
    calls += [msg(T0 + 60, "retrying", "e"), msg(T0 + 120, "processing", "e")]
    calls += [msg(T0 + 125, "delivered", "e")]
    assert feed(life, calls) == [1, 0, 1]
    assert life.in_flight == 0
    assert life.close(T0 + 3600, POLICY) == {}


def test_a_retry_that_never_resolves_fails_at_the_horizon_and_its_outcome_counts_nothing() -> None:
    life = Lifecycle()
    message = "destination unavailable"
    feed(life, [msg(T0, "received", "e"), msg(T0 + 30, "retrying", "e", error_code="503",
                                                error_message=message)])  # fmt: skip
    at = T0 + 30 + 900  # The horizon: 15 minutes after the first retry.
    snaps = life.close(T0 + 3600, POLICY)
    boundary = (at // 60 + 1) * 60
    assert snaps[boundary].gave_up == 1
    assert snaps[boundary].codes == {"503": 1}
    assert all(s.gave_up == 0 for b, s in snaps.items() if b != boundary)
    assert snaps[boundary].retries == "1 event retrying for more than 15 min: 503 " + message
    assert life.in_flight == 0
    assert feed(life, [msg(T0 + 3700, "failed", "e", error_code="503")]) == [0, 0, 0]
    assert not life.given_up


def test_events_left_in_processing_are_stuck_after_the_threshold() -> None:
    life = Lifecycle()
    # A day of normal traffic: done in seconds, so the threshold is the 5-minute floor.
    feed(life, [m for i in range(200) for m in (
        msg(T0 - 86400 + i * 60, "received", f"ok{i}"),
        msg(T0 - 86400 + i * 60 + 3, "delivered", f"ok{i}"))])  # fmt: skip
    feed(life, [msg(T0 + i * 30, "processing", f"s{i}") for i in range(40)])
    snaps = life.close(T0 + 3600, POLICY)
    first = min(b for b, s in snaps.items() if s.stuck)
    assert first == T0 + 300 + 60  # The first event is 5 min old at the end of 14:05.
    finding = findings.stuck(snaps[T0 + 1200], UTC)
    assert finding is not None
    assert finding.status is Status.MANY_PROBLEMS  # Every recent event is stuck.
    assert (
        finding.reason == "30 events stuck in processing for more than 5 min (oldest since 14:00)"
    )


def test_a_few_stuck_among_many_finished_is_some_problems() -> None:
    snap = Snapshot(stuck=4, oldest=T0, threshold=900, recent=400, recent_stuck=4)
    found = findings.stuck(snap, UTC)
    assert found is not None
    assert found.status is Status.SOME_PROBLEMS
    few = Snapshot(stuck=2, oldest=T0, threshold=900, recent=400, recent_stuck=2)
    assert findings.stuck(few, UTC) is None
    # Stuck long ago, while the recent events all finished: listed, not a status.
    assert findings.stuck(Snapshot(stuck=50, oldest=T0, threshold=900, recent=400), UTC) is None


def test_the_stuck_threshold_is_learned_floored_capped_and_configurable() -> None:
    fast, slow = Durations(), Durations()
    for _ in range(200):
        fast.add(2.0)
        slow.add(120.0)
    assert Durations().stuck_after(None) == 900  # Nothing learned yet: the seeds' 15 min.
    assert fast.stuck_after(None) == 300
    assert slow.stuck_after(None) == 900
    assert fast.stuck_after(1800) == 1800
    mid = Durations()
    for _ in range(200):
        mid.add(30.0)
    assert 300 < mid.stuck_after(None) < 900


def test_the_cap_counts_overflow_and_counts_those_events_once_at_their_outcome() -> None:
    life = Lifecycle()
    policy = Policy(cap=10)
    assert feed(life, [msg(T0 + i, "received", f"e{i}") for i in range(15)], policy) == [10, 0, 0]
    assert life.overflow == 5
    assert life.in_flight == 10
    done = [msg(T0 + 20 + i, "failed", f"e{i}", error_code="x") for i in range(15)]
    assert feed(life, done, policy) == [5, 15, 0]


def test_a_run_of_one_error_is_evidence_with_its_likely_cause() -> None:
    life = Lifecycle()
    feed(life, [msg(T0 + i, "failed", error_code="401", error_message="Unauthorized")
                for i in range(4)])  # fmt: skip
    assert life.streak is not None
    assert life.streak.count == 4
    note = findings.streak_note(Snapshot(streak=life.streak))
    assert note is not None
    assert note.startswith("4 failures in a row with the same error 401 Unauthorized")
    assert "credentials" in note
    feed(life, [msg(T0 + 10, "success")])
    assert life.streak is None
    feed(life, [msg(T0 + 11, "failed", error_code="a"), msg(T0 + 12, "failed", error_code="b")])
    assert life.streak is not None
    assert life.streak.count == 1


def test_failures_at_the_same_time_on_three_days_are_a_pattern() -> None:
    days = FailureDays()
    for day in range(3):
        base = T0 - 11 * 3600 + day * 86400  # 03:00 UTC
        for i in range(6):
            days.add(base + i * 60, 1, UTC)
        days.add(base + 9 * 3600, 1, UTC)  # A failure at noon does not hide the pattern.
    assert recurring(days) == "failed around 03:00 on 3 of the last 3 days"
    spread = FailureDays()
    for day in range(3):
        for hour in range(24):
            spread.add(T0 + day * 86400 + hour * 3600, 2, UTC)
    assert recurring(spread) is None


def test_judge_keeps_the_worse_finding_and_adds_the_evidence() -> None:
    snap = Snapshot(stuck=20, oldest=T0, threshold=900, recent=20, recent_stuck=20,
                    recurring="failed around 03:00 on 3 of the last 3 days")  # fmt: skip
    found = findings.judge(None, snap, UTC)
    assert found is not None
    assert found.status is Status.MANY_PROBLEMS
    assert found.reason.endswith("; failed around 03:00 on 3 of the last 3 days")
    assert findings.judge(None, Snapshot(recurring="x"), UTC) is None


# Messages of a few events in a random order of statuses, in time order.
STATUSES = st.sampled_from(["received", "processing", "retrying", "delivered", "failed"])
EVENTS = st.lists(
    st.tuples(st.integers(0, 7), STATUSES, st.integers(1, 400)), min_size=1, max_size=60
)


def messages(raw: list[tuple[int, str, int]]) -> list[OperationCall]:
    out, ts = [], float(T0)
    for event, status, gap in raw:
        ts += gap
        out.append(msg(ts, status, f"e{event}", error_code="503"))
    return out


@settings(max_examples=150, deadline=None)
@given(EVENTS)
def test_each_event_is_counted_at_most_once_and_fails_at_most_once(
    raw: list[tuple[int, str, int]],
) -> None:
    life = Lifecycle()
    calls = messages(raw)
    totals = feed(life, calls)
    snaps = life.close(int(calls[-1].timestamp or 0) // 60 * 60 + 7200, POLICY)
    distinct = len({c.event_id for c in calls})
    gave_up = sum(s.gave_up for s in snaps.values())
    # An event whose outcome came and went is counted again when it shows up anew.
    assert totals[0] >= min(distinct, 1)
    finished = sum(c.status in ("success", "error") for c in calls)
    assert totals[0] <= distinct + finished
    assert totals[1] + gave_up <= totals[0]


@settings(max_examples=150, deadline=None)
@given(EVENTS, st.lists(st.integers(0, 59), max_size=10))
def test_snapshots_do_not_depend_on_when_the_shell_closes_windows(
    raw: list[tuple[int, str, int]], close_after: list[int]
) -> None:
    """A worker closes windows after each batch (never past the newest event read); a
    replay at every new window. Both must take the same snapshots."""
    calls = messages(raw)
    end = int(calls[-1].timestamp or 0) // 60 * 60 + 3600
    eager, lazy = Lifecycle(), Lifecycle()
    got_eager: dict[int, Snapshot] = {}
    for i, call in enumerate(calls):
        eager.observe(call, POLICY)
        lazy.observe(call, POLICY)
        if i in close_after:
            newest = int(call.timestamp or 0) // 60 * 60
            got_eager.update(eager.close(newest - 60, POLICY))
    got_eager.update(eager.close(end, POLICY))
    assert got_eager == lazy.close(end, POLICY)


@settings(max_examples=100, deadline=None)
@given(EVENTS, st.integers(0, 59))
def test_a_restored_lifecycle_continues_exactly_like_the_original(
    raw: list[tuple[int, str, int]], split: int
) -> None:
    calls = messages(raw)
    split = min(split, len(calls))
    original, stored = Lifecycle(changed={}), Lifecycle(changed={})
    feed(original, calls[:split])
    feed(stored, calls[:split])
    table: dict[str, list[Any]] = {}
    for event_id, event in stored.drain().items():
        if event is None:
            table.pop(event_id, None)
        else:
            table[event_id] = event.to_list()
    restored = Lifecycle.from_dict(stored.to_dict(), list(table.items()))
    assert feed(restored, calls[split:]) == feed(original, calls[split:])
    end = int(calls[-1].timestamp or 0) // 60 * 60 + 3600
    assert restored.close(end, POLICY) == original.close(end, POLICY)


MIXED = st.lists(
    st.tuples(
        st.sampled_from(["e0", "e1", "e2", "e3", None, None]),
        st.sampled_from(["received", "processing", "retrying", "delivered", "failed"]),
        st.sampled_from(["401", "503"]),
        st.integers(1, 400),
    ),
    min_size=1,
    max_size=60,
)


def mixed_records(raw: list[tuple[str | None, str, str, int]]) -> list[Any]:
    """The calls-topic records of ``MIXED`` messages: followed events, and calls without
    ``event_id`` (delivered or failed)."""
    import orjson

    from detector.ingest import RawRecord

    records, ts = [], float(T0)
    for event_id, status, code, gap in raw:
        ts += gap
        body = {"operation": "Op", "timestamp": ts, "status": status, "error_code": code}
        if event_id is None:
            body["status"] = {"received": "delivered", "processing": "delivered"}.get(
                status, status
            )
            del body["error_code"]
            if body["status"] == "failed":
                body["error_code"] = code
        else:
            body["event_id"] = event_id
        records.append(RawRecord(b"Op", orjson.dumps(body), 0, len(records), ts))
    return records


@settings(max_examples=300, deadline=None)
@given(MIXED, st.lists(st.integers(1, 59), max_size=6))
def test_the_rows_a_worker_hands_over_leave_the_lifecycle_where_replay_does(
    raw: list[tuple[str | None, str, str, int]], cuts: list[int]
) -> None:
    """The worker's fold agent sees, per batch, only the rows that can change the state
    (``detector.lifecycle.batch.rows``); replay sees every record."""
    from detector.ingest import decode_batch
    from detector.lifecycle.batch import apply, rows

    records = mixed_records(raw)
    ts = records[-1].timestamp or T0
    replayed, worker = Lifecycle(), Lifecycle()
    totals = [0, 0, 0]
    for record in records:
        assert record.value is not None
        call = OperationCall.model_validate_json(record.value)
        for i, n in enumerate(replayed.observe(call, POLICY)):
            totals[i] += n
    worker_totals = [0, 0, 0]
    bounds = [0, *sorted(set(c for c in cuts if c < len(records))), len(records)]
    for start, end in itertools.pairwise(bounds):
        decoded = decode_batch(records[start:end])
        for i, n in enumerate(decoded.batch.calls):
            worker_totals[0] += n
            worker_totals[1] += decoded.batch.errors[i]
            worker_totals[2] += decoded.batch.retries[i]
        for counts in apply(worker, rows(decoded, 60).get("Op", []), POLICY).values():
            worker_totals[0] += counts.calls
            worker_totals[1] += counts.errors
            worker_totals[2] += counts.retries
    assert worker_totals == totals
    end_at = int(ts) // 60 * 60 + 3600
    assert worker.close(end_at, POLICY) == replayed.close(end_at, POLICY)
    if worker.checked is None:  # Nothing ever reached it: only where it starts differs.
        replayed.checked = None
    assert worker.to_dict() == replayed.to_dict()


@settings(max_examples=200, deadline=None)
@given(MIXED, st.lists(st.integers(1, 59), max_size=6), st.integers(0, 6))
def test_a_batch_handed_over_again_after_a_crash_is_applied_once(
    raw: list[tuple[str | None, str, str, int]], cuts: list[int], crash: int
) -> None:
    """The fold agent stores the lifecycle (its events, then the rest) before the counts
    that mark the batch applied. A worker that dies in between is followed by one that
    restores the lifecycle from the table and is handed the same batch again: it must
    end where a worker that never died ends, with the same counts."""
    from detector.ingest import decode_batch
    from detector.lifecycle.batch import apply_once, rows

    records = mixed_records(raw)
    clean, crashed = Lifecycle(changed={}), Lifecycle(changed={})
    table: dict[str, list[Any]] = {}
    totals: dict[str, list[int]] = {"clean": [0, 0, 0], "crashed": [0, 0, 0]}
    bounds = [0, *sorted(set(c for c in cuts if c < len(records))), len(records)]
    for k, (start, end) in enumerate(itertools.pairwise(bounds)):
        handed = rows(decode_batch(records[start:end]), 60).get("Op", [])
        sources = {0: end - 1}
        got = {"clean": apply_once(clean, handed, sources, POLICY)}
        got["crashed"] = apply_once(crashed, handed, sources, POLICY)
        for event_id, event in crashed.drain().items():
            if event is None:
                table.pop(event_id, None)
            else:
                table[event_id] = event.to_list()
        if k == crash:  # Stored, but not the counts: the next worker gets the batch again.
            crashed = Lifecycle.from_dict(orjson_round_trip(crashed.to_dict()), list(table.items()))
            crashed.changed = {}
            got["crashed"] = apply_once(crashed, handed, sources, POLICY)
        for name, counts in got.items():
            for c in counts.values():
                totals[name] = [
                    a + b for a, b in zip(totals[name], (c.calls, c.errors, c.retries), strict=True)
                ]
    assert totals["crashed"] == totals["clean"]
    end_at = int(records[-1].timestamp or T0) // 60 * 60 + 3600
    assert crashed.close(end_at, POLICY) == clean.close(end_at, POLICY)
    assert orjson_round_trip(crashed.to_dict()) == orjson_round_trip(clean.to_dict())


def orjson_round_trip(value: dict[str, Any]) -> dict[str, Any]:
    """As the table's changelog stores it (JSON: keys become strings)."""
    import orjson

    return dict(orjson.loads(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)))


def test_judged_snapshots_are_kept_an_hour_for_a_worker_that_judges_again() -> None:
    life = Lifecycle()
    feed(life, [msg(T0 + 1, "received", "e1")])
    snaps = life.close(T0 + 1800, POLICY)
    stuck_at = min(b for b, s in snaps.items() if s.stuck)
    life.judged(T0 + 1800)
    assert stuck_at in life.close(T0 + 1800, POLICY)
    life.close(T0 + 1800 + 3600, POLICY)
    life.judged(T0 + 1800 + 3600)
    assert stuck_at not in life.pending
