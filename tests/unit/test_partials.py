"""Partial counts: built from a decoded batch without losing a call, and applied exactly
once however often they are delivered."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from detector import partials
from detector.ingest import RawRecord, decode_batch
from detector.windows import OperationWindows


def record(op: str, partition: int, offset: int, ts: float, status: str = "ok") -> RawRecord:
    body = orjson.dumps({"operation": op, "status": status, "timestamp": ts})
    return RawRecord(op.encode(), body, partition, offset, ts)


def test_partials_carry_every_call_the_source_offsets_and_the_watermark() -> None:
    records = [
        record("A", 0, 10, 61.0),
        record("A", 0, 11, 125.0, "error"),
        record("B", 1, 7, 130.0),
        record("C", 0, 12, 62.0),
    ]
    items = partials.partials(decode_batch(records), 60, {0: 12, 1: 7})
    by_op = {p.operation: p for p in items}
    assert {op: p.sources for op, p in by_op.items()} == {"A": {0: 12}, "B": {1: 7}, "C": {0: 12}}
    # The watermark is the newest event time read from the source partition, for all its operations.
    assert (by_op["A"].watermark, by_op["C"].watermark, by_op["B"].watermark) == (
        125.0,
        125.0,
        130.0,
    )
    assert sorted((s, w.calls, w.errors) for s, w in by_op["A"].windows) == [
        (60, 1, 0),
        (120, 1, 1),
    ]
    [raw] = partials.encode(items, {0: True, 1: False})
    back, caught_up = partials.decode(raw)
    assert caught_up == {0: True, 1: False}
    assert [p.to_json() for p in back] == [p.to_json() for p in items]


def test_a_batch_of_many_new_operations_is_split_into_messages_under_the_budget() -> None:
    # Ten thousand new names in one batch made one message over the broker's 1 MB limit,
    # refused for ever, and ingest stopped.
    records = [record(f"Op.{i:05d}-{'x' * 60}", i % 2, i, 61.0 + i % 50) for i in range(10_000)]
    items = partials.partials(decode_batch(records), 60, {0: 9_998, 1: 9_999})
    budget = 64 << 10
    messages = partials.encode(items, {0: False, 1: True}, budget)
    assert len(messages) > 1
    assert all(len(m) <= budget + 1024 for m in messages)
    back = [partials.decode(m) for m in messages]
    assert all(caught_up == {0: False, 1: True} for _, caught_up in back)
    assert [p.to_json() for got, _ in back for p in got] == [p.to_json() for p in items]


def test_no_partials_is_still_one_message_telling_the_flags() -> None:
    [raw] = partials.encode([], {3: True})
    assert partials.decode(raw) == ([], {3: True})


def test_a_partial_delivered_again_is_not_counted_again() -> None:
    first = partials.partials(decode_batch([record("A", 0, 5, 61.0)]), 60, {0: 5})[0]
    second = partials.partials(decode_batch([record("A", 0, 6, 62.0)]), 60, {0: 6})[0]
    folded = partials.fold(None, first, 3, 3600)
    assert folded is not None
    state, late = folded
    assert partials.fold(state, first, 3, 3600) is None
    again = partials.fold(OperationWindows.from_value(state.to_value()), first, 3, 3600)
    assert again is None  # The applied offsets survive the changelog round trip.
    folded = partials.fold(state, second, 3, 3600)
    assert folded is not None
    assert folded[0].windows[60].calls == 2
    assert folded[0].applied == {0: 6}
    assert late.calls == 0


def test_windows_older_than_the_retention_are_late_not_counted() -> None:
    first = partials.fold(None, _partial("A", 0, 1, 7200.0), 0, 3600)
    assert first is not None
    folded = partials.fold(first[0], _partial("A", 0, 2, 60.0), 0, 3600)
    assert folded is not None
    assert folded[1].calls == 1
    assert sorted(folded[0].windows) == [7200]


def _partial(op: str, partition: int, offset: int, ts: float) -> partials.Partial:
    return partials.partials(
        decode_batch([record(op, partition, offset, ts)]), 60, {partition: offset}
    )[0]


@given(st.lists(st.integers(0, 30), min_size=1, max_size=60), st.data())
def test_any_redelivery_counts_each_batch_once(batch_sizes: list[int], data: st.DataObject) -> None:
    """Batches of one partition in offset order, each delivered once or more, any prefix
    delivered again after a 'restart': the count is the number of calls sent."""
    items, offset = [], 0
    for size in batch_sizes:
        records = [record("A", 0, offset + i, 61.0) for i in range(size)]
        offset += size
        if records:
            items.append(partials.partials(decode_batch(records), 60, {0: offset - 1})[0])
    deliveries = []
    for i, item in enumerate(items):
        deliveries.append(item)
        if data.draw(st.booleans()):
            back = data.draw(st.integers(0, i))
            deliveries.extend(items[back : i + 1])  # Re-read from an older committed offset.
    state = None
    for item in deliveries:
        folded = partials.fold(state, item, 0, 3600)
        if folded is not None:
            state = folded[0]
    total = sum(w.calls for w in state.windows.values()) if state is not None else 0
    assert total == sum(batch_sizes)
