"""Partial counts: built from a decoded batch without losing a call, and applied exactly
once however often they are delivered."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
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
    span = partials.Span({0: (10, 12), 1: (7, 7)}, frozenset({1}))
    [raw] = partials.encode(items, {0: True, 1: False}, span)
    back, caught_up, span_back = partials.decode(raw)
    assert caught_up == {0: True, 1: False}
    assert [p.to_json() for p in back] == [p.to_json() for p in items]
    assert span_back == span


def test_a_batch_of_many_new_operations_is_split_into_messages_under_the_budget() -> None:
    # Ten thousand new names in one batch made one message over the broker's 1 MB limit,
    # refused for ever, and ingest stopped.
    records = [record(f"Op.{i:05d}-{'x' * 60}", i % 2, i, 61.0 + i % 50) for i in range(10_000)]
    items = partials.partials(decode_batch(records), 60, {0: 9_998, 1: 9_999})
    budget = 64 << 10
    span = partials.Span({0: (0, 9_998), 1: (1, 9_999)})
    messages = partials.encode(items, {0: False, 1: True}, span, budget)
    assert len(messages) > 1
    assert all(len(m) <= budget + 1024 for m in messages)
    back = [partials.decode(m) for m in messages]
    assert all(caught_up == {0: False, 1: True} for _, caught_up, _ in back)
    assert [p.to_json() for got, _, _ in back for p in got] == [p.to_json() for p in items]
    # Each message is one part of the batch's: applied in turn, each once.
    assert [(s.part, s.parts) for _, _, s in back] == [
        (i, len(messages)) for i in range(len(messages))
    ]
    assert all(s.ranges == span.ranges for _, _, s in back)


def test_no_partials_is_still_one_message_telling_the_flags() -> None:
    [raw] = partials.encode([], {3: True})
    assert partials.decode(raw) == ([], {3: True}, partials.Span())
    assert partials.follows({}, partials.Span()) == "next"  # No batch: nothing to follow.


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


def test_a_batch_follows_the_last_one_applied_of_its_source() -> None:
    chain: partials.Chain = {}
    first = partials.Span({0: (0, 9), 1: (0, 4)}, frozenset({0, 1}))
    assert partials.follows(chain, partials.Span({0: (0, 9)})) == "gap"  # Not the start.
    assert partials.follows(chain, first) == "next"
    partials.advance(chain, first)
    assert partials.follows(chain, first) == "seen"
    assert partials.follows(chain, partials.Span({0: (10, 19)})) == "next"
    assert partials.follows(chain, partials.Span({0: (20, 29)})) == "gap"  # 10-19 missing.
    assert partials.follows(chain, partials.Span({0: (5, 19)})) == "gap"  # Overlaps 0-9.
    # A batch of two sources: both must follow.
    assert partials.follows(chain, partials.Span({0: (10, 19), 1: (5, 8)})) == "next"
    assert partials.follows(chain, partials.Span({0: (10, 19), 1: (9, 12)})) == "gap"
    # The parts of one batch, in turn.
    parts = [partials.Span({0: (10, 19)}, part=i, parts=3) for i in range(3)]
    assert partials.follows(chain, parts[1]) == "gap"
    partials.advance(chain, parts[0])
    assert partials.follows(chain, parts[0]) == "seen"
    assert partials.follows(chain, parts[2]) == "gap"
    assert partials.follows(chain, partials.Span({0: (20, 29)})) == "gap"  # Batch unfinished.
    partials.advance(chain, parts[1])
    partials.advance(chain, parts[2])
    assert partials.follows(chain, partials.Span({0: (20, 29)})) == "next"


@st.composite
def _messages(draw: st.DrawFn) -> list[partials.Span]:
    """The messages one partials partition gets: batches of up to three sources, each
    source's batches contiguous, a batch sometimes in several parts; now and then, and
    at the end, the ingest's marks of what it has committed."""
    ends = {0: -1, 1: -1, 2: -1}
    out = []
    for _ in range(draw(st.integers(1, 25))):
        sources = draw(st.sets(st.sampled_from(sorted(ends)), min_size=1))
        ranges = {}
        for s in sorted(sources):
            size = draw(st.integers(1, 50))
            ranges[s] = (ends[s] + 1, ends[s] + size)
        starts = frozenset(s for s in sources if ends[s] == -1)
        for s in sources:
            ends[s] = ranges[s][1]
        parts = draw(st.integers(1, 3))
        out += [partials.Span(ranges, starts, i, parts) for i in range(parts)]
        if draw(st.booleans()):
            out.append(partials.Span(marks={s: e for s, e in ends.items() if e >= 0}))
    return [*out, partials.Span(marks={s: e for s, e in ends.items() if e >= 0})]


@settings(deadline=None)  # A consumer's whole run per example: its time varies.
@given(_messages(), st.data())
def test_however_the_consumer_drops_or_repeats_messages_each_is_applied_once_in_order(
    messages: list[partials.Span], data: st.DataObject
) -> None:
    """A consumer that drops messages, and goes back to messages already applied; on a
    gap it reads again from just after the last message applied of the sources behind
    (the fold agent's rule). Whatever it does, every batch message is applied once, each
    source's in order."""
    chain: partials.Chain = {}
    applied: list[int] = []
    last: dict[int, int] = {}  # Source -> position of its last message applied.
    position, steps = 0, 0
    while position < len(messages) and steps < 5_000:
        steps += 1
        if position < len(messages) - 1 and data.draw(st.integers(0, 9)) == 9:
            position += 1  # Dropped: never delivered from here.
            continue
        if data.draw(st.integers(0, 9)) == 9:  # Read again from an older offset.
            position = data.draw(st.integers(0, position))
            continue
        span = messages[position]
        verdict = partials.follows(chain, span)
        if verdict == "gap":
            known = [last.get(s) for s in partials.behind(chain, span)]
            position = min(k for k in known if k is not None) + 1 if None not in known else 0
            continue
        if verdict == "next":
            partials.advance(chain, span)
            applied.append(position)
            last.update(dict.fromkeys(span.ranges, position))
        position += 1
    batches = [i for i in applied if messages[i].ranges]
    assert sorted(batches) == [i for i, m in enumerate(messages) if m.ranges]
    for source in (0, 1, 2):
        mine = [i for i in batches if source in messages[i].ranges]
        assert mine == sorted(mine)


def test_a_gap_given_up_lets_the_chain_go_on() -> None:
    chain: partials.Chain = {0: (9, 1, 1)}
    later = partials.Span({0: (20, 29)})
    assert partials.behind(chain, later) == {0}
    partials.give_up(chain, later)
    assert partials.follows(chain, later) == "next"
    marks = partials.Span(marks={0: 40, 1: 5})
    assert partials.behind(chain, marks) == {0, 1}
    partials.give_up(chain, marks)
    assert partials.follows(chain, marks) == "next"
