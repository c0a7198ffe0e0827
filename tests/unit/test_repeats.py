"""Repeated ids (``detector.repeats``): what repeats, the bounded memory, the rule, and a
resend loop replayed end to end."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from detector import rules
from detector.events import OperationCall
from detector.ingest import Records, decode_batch
from detector.opconfig import DetectionConfig
from detector.repeats import HORIZON, LOOP, Memory, key_hash
from detector.replay import replay
from detector.status import Status
from detector.windows import WindowCounts, aggregate


def call(**fields: Any) -> OperationCall:
    return OperationCall.model_validate({"operation": "Op", "timestamp": 1.0e9, **fields})


def test_an_events_lifecycle_statuses_are_different_keys_and_its_retries_have_none() -> None:
    received = key_hash(call(event_id="e1", status="received"))
    delivered = key_hash(call(event_id="e1", status="delivered"))
    assert received is not None
    assert received != delivered
    assert delivered == key_hash(call(event_id="e1", status="success", source_record="r9"))
    assert key_hash(call(event_id="e1", status="retrying")) is None
    assert key_hash(call(source_record="r1", status="retrying")) is None
    assert key_hash(call(status="success")) is None


def test_a_source_record_repeats_on_another_call_whatever_its_status() -> None:
    failed = key_hash(call(source_record="r1", status="error"))
    assert failed == key_hash(call(source_record="r1", status="success"))
    assert failed != key_hash(call(source_record="r2", status="error"))


def reference(keys: list[int], times: list[float], slots: int) -> list[int]:
    """The memory message by message: two direct-mapped tables of (key, time,
    sightings), slots from the low and the high half of the key; the longer chain."""
    tables: list[dict[int, tuple[int, float, int]]] = [{}, {}]
    out = []
    for key, t in zip(keys, times, strict=True):
        best = 0
        for table, slot in zip(tables, (key % slots, (key >> 32) % slots), strict=True):
            old = table.get(slot)
            n = old[2] + 1 if old and old[0] == key and abs(t - old[1]) <= HORIZON else 1
            table[slot] = (key, t, n)
            best = max(best, n)
        out.append(best)
    return out


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 11), st.integers(0, 600)), min_size=1, max_size=120),
    st.lists(st.integers(1, 40), min_size=1, max_size=10),
)
def test_sightings_are_the_same_whatever_the_batch_boundaries(
    messages: list[tuple[int, int]], cuts: list[int]
) -> None:
    keys = [k * 0x9E3779B97F4A7C15 % 2**64 for k, _ in messages]  # Some share a slot of 8.
    times, t = [], 0.0
    for _, gap in messages:
        t += gap * 10.0  # Gaps up to 6000 s: some beyond the horizon.
        times.append(t)
    memory, got, at = Memory(slots=8), [], 0
    for cut in [*cuts, len(keys)]:
        if at >= len(keys):
            break
        part = slice(at, min(len(keys), at + cut))
        got += memory.sightings(
            "Op", np.array(keys[part], dtype=np.uint64), np.array(times[part], dtype=np.float64)
        ).tolist()
        at = part.stop
    assert got == reference(keys, times, 8)


def test_the_memory_is_bounded_whatever_the_producers_send() -> None:
    memory = Memory(max_operations=3)
    hashes = np.arange(1_000_000, dtype=np.uint64) * np.uint64(2654435761)
    times = np.linspace(0, 100, len(hashes))
    for i in range(10):
        memory.sightings(f"Op{i}", hashes, times)
    assert list(memory.tables) == ["Op7", "Op8", "Op9"]
    sizes = [sum(a.nbytes for t in tables for a in t) for tables in memory.tables.values()]
    assert sizes == [10 * 1024] * 3


def lines(records: list[dict[str, Any]]) -> Records:
    values = [orjson.dumps(r) for r in records]
    n = len(values)
    return Records([None] * n, values, [0] * n, list(range(n)), [None] * n)


def test_the_batch_marks_repeats_and_loops_by_window_and_leaves_bare_calls_alone() -> None:
    base = 1_000_000_020.0
    records: list[dict[str, Any]] = [
        {"operation": "A", "status": "success", "timestamp": base + i, "count": 3} for i in range(5)
    ]
    records += [
        {"operation": "B", "status": "success", "timestamp": base + i, "source_record": "r1"}
        for i in range(6)
    ]
    records.append({"operation": "B", "status": "error", "timestamp": base + 70.0,
                    "source_record": "r1"})  # fmt: skip
    memory = Memory()
    decoded = decode_batch(lines(records), check_keys=False, keep_failures=False)
    memory.mark(decoded)
    assert len(decoded.ids) == 7  # Only B's records carry an id.
    windows = aggregate(decoded.batch, 60)
    assert all(w.repeats == 0 for w in windows["A"].values())
    first, second = (windows["B"][s] for s in sorted(windows["B"]))
    assert (first.calls, first.repeats, first.looped) == (6, 5, 6 - LOOP + 1)
    assert (second.calls, second.repeats, second.looped) == (1, 1, 1)
    again = decode_batch(lines(records[5:6]), check_keys=False, keep_failures=False)
    memory.mark(again)
    assert again.batch.repeats == [("B", base + 0, 2)]  # The next batch remembers r1.


def test_window_counts_keep_their_repeats_through_storage_and_merges() -> None:
    counts = WindowCounts(10, 1, 0, {"500": 1}, 7, 4)
    assert WindowCounts.from_list(counts.to_list()) == counts
    assert WindowCounts(10, 1, 0).to_list() == [10, 1, 0, {}]  # Stored as before.
    counts.merge(WindowCounts(2, 0, 0, {}, 1, 1))
    assert (counts.calls, counts.repeats, counts.looped) == (12, 8, 5)


def test_a_retry_or_a_few_duplicates_never_make_a_finding() -> None:
    assert rules.resent_ids(15, 1300, 1, 0, 0.0, LOOP) is None
    assert rules.resent_ids(15, 1300, 400, 29, 0.0, LOOP) is None  # Duplicates, twice each.
    assert rules.resent_ids(15, 10_000, 500, 300, 0.0, LOOP) is None  # 3% of the calls.


def test_a_resend_loop_is_some_problems_and_most_calls_repeating_is_many() -> None:
    many = rules.resent_ids(15, 1300, 1240, 1204, 0.0, LOOP)
    assert many is not None
    assert many.status is Status.MANY_PROBLEMS
    assert many.reason == (
        "1,240 of 1,300 calls in the last 15 min repeated ids sent recently, 1,204 of them "
        "ids already sent 3 times or more (a resend loop?)"
    )
    some = rules.resent_ids(15, 1300, 600, 400, 0.0, LOOP)
    assert some is not None
    assert some.status is Status.SOME_PROBLEMS


def test_a_placeholder_id_on_every_call_is_the_operations_normal() -> None:
    assert rules.resent_ids(15, 1300, 1299, 1296, 0.99, LOOP) is None
    assert rules.resent_ids(15, 1300, 1299, 1296, 0.5, LOOP) is not None


START = int(datetime(2026, 3, 2, tzinfo=UTC).timestamp())  # A Monday.


def traffic(days: int, loop_from: float | None, duplicates: bool = False) -> list[OperationCall]:
    """An order form with an id on each call, about 2 a minute by day; from ``loop_from``
    (days) for an hour, a consumer sends 12 records again and again (3 more calls a
    minute); ``duplicates``: every tenth call is sent twice."""
    rng = np.random.default_rng(7)
    out: list[dict[str, Any]] = []
    for minute in range(days * 1440):
        ts = START + minute * 60
        hour = minute % 1440 // 60
        rate = 2.0 if 7 <= hour < 22 else 0.3
        for i in range(int(rng.poisson(rate))):
            record = {
                "operation": "Shop.Order",
                "status": "success",
                "timestamp": ts + i,
                "source_record": f"order-{minute}-{i}",
            }
            out.append(record)
            if duplicates and (minute + i) % 10 == 0:
                out.append({**record, "timestamp": ts + i + 1})
        if loop_from is not None and 0 <= ts - START - loop_from * 86400 < 3600:
            out += [
                {
                    "operation": "Shop.Order",
                    "status": "success",
                    "timestamp": ts + 30 + j,
                    "source_record": f"stuck-{(minute * 3 + j) % 12}",
                }
                for j in range(3)
            ]
    return [OperationCall.model_validate(r) for r in out]


def test_a_resend_loop_replayed_is_reported_and_at_least_once_duplicates_are_not() -> None:
    quiet = list(replay(traffic(3, None, duplicates=True), DetectionConfig()))
    assert [c.status for c in quiet if c.status.is_problem] == []
    changes = list(replay(traffic(3, 2 + 11 / 24), DetectionConfig()))
    problems = [c for c in changes if c.status.is_problem]
    assert problems, changes
    first = problems[0]
    assert "(a resend loop?)" in first.reason
    loop_start = START + 2 * 86400 + 11 * 3600
    # Each record comes every 4 minutes: its 4th sighting after 12, 30 looped after 22.
    assert loop_start + 20 * 60 < first.at.timestamp() <= loop_start + 25 * 60
    # Most calls repeat once the loop runs (3 of 5 a minute); it ends an hour later.
    assert Status.MANY_PROBLEMS in {c.status for c in problems}
    assert all(c.at.timestamp() <= loop_start + 3600 + 20 * 60 for c in problems)
    assert changes[-1].status is Status.OK
