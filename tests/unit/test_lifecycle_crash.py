"""A worker killed while the broker has only part of a batch's lifecycle writes.

An operation's events and its own record are separate records of one changelog
partition: a kill can leave any prefix of a save's writes on the broker. The next worker
restores the table from that prefix and is handed the batch again (its counts were not
stored); it must end where a worker that never died ends, with the same counts."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from agents.lifecycle import Lifecycles
from detector.ingest import decode_batch
from detector.lifecycle.batch import apply_once, rows
from tests.unit.test_lifecycle import MIXED, POLICY, T0, mixed_records
from tests.unit.test_lifecycles_memory import book


class Changelog:
    """A table whose changelog writes are kept in order, as the broker would take them."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.log: list[tuple[str, Any]] = []

    def send_changelog(self, _p: int, key: str, value: Any, value_serializer: Any = None) -> None:
        self.log.append((key, value))

    def restored(self, upto: int) -> Changelog:
        """A new worker's table: the first ``upto`` records of the changelog."""
        table = Changelog()
        table.log = self.log[:upto]
        for key, value in table.log:
            if value is None:
                table.data.pop(key, None)
            else:
                table.data[key] = value
        return table


def fold(lifecycles: Lifecycles, handed: list[Any], sources: dict[int, int]) -> list[int]:
    """What the fold agent does with one operation's rows: apply once, then save."""
    counts = apply_once(lifecycles.get("Op"), handed, sources, POLICY)
    lifecycles.save("Op", 0, None)
    return [sum(getattr(c, f) for c in counts.values()) for f in ("calls", "errors", "retries")]


def plus(a: list[int], b: list[int]) -> list[int]:
    return [x + y for x, y in zip(a, b, strict=True)]


@settings(max_examples=300, deadline=None)
@given(MIXED, st.lists(st.integers(1, 59), max_size=6), st.integers(0, 6), st.integers(0, 999))
def test_a_kill_part_way_through_a_batchs_writes_applies_the_batch_once(
    raw: list[tuple[str | None, str, str, int]], cuts: list[int], crash: int, sent: int
) -> None:
    records = mixed_records(raw)
    bounds = [0, *sorted(set(c for c in cuts if c < len(records))), len(records)]
    batches = [
        (rows(decode_batch(records[a:b]), 60).get("Op", []), {0: b - 1})
        for a, b in itertools.pairwise(bounds)
    ]
    clean = book(Changelog())
    clean_totals = [0, 0, 0]
    for handed, sources in batches:
        clean_totals = plus(clean_totals, fold(clean, handed, sources))
    table = Changelog()
    crashed = book(table)
    totals = [0, 0, 0]
    for k, (handed, sources) in enumerate(batches):
        before = len(table.log)
        got = fold(crashed, handed, sources)
        if k == crash:  # Killed before the counts were stored, with part of the writes sent.
            table = table.restored(before + sent % (len(table.log) - before + 1))
            crashed = book(table)
            got = fold(crashed, handed, sources)
        totals = plus(totals, got)
    assert totals == clean_totals
    mine, theirs = crashed.get("Op"), clean.get("Op")
    restarted = book(table.restored(len(table.log))).get("Op")  # What the changelog holds.
    assert (restarted.open, restarted.retrying, restarted.given_up) == (
        theirs.open, theirs.retrying, theirs.given_up,
    )  # fmt: skip
    end_at = int(records[-1].timestamp or T0) // 60 * 60 + 3600
    assert mine.close(end_at, POLICY) == theirs.close(end_at, POLICY)
    assert (mine.open, mine.retrying, mine.given_up) == (
        theirs.open, theirs.retrying, theirs.given_up,
    )  # fmt: skip
    assert mine.to_dict() | {"v": 0} == theirs.to_dict() | {"v": 0}  # Saved once more, or not.
