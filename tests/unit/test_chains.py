"""The fold agent's chains: a message after a gap is held back and its partition read
again from the last message applied; a gap that never fills is given up after a minute,
counted as lost only where an earlier batch of its source was applied."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from faust.types import TP
from prometheus_client import CollectorRegistry, Counter

from agents.chains import GAP_PATIENCE, READ_AGAIN_EVERY, Chains
from agents.quarantine import Quarantine
from detector.partials import Span
from tables import chains as chains_table


class _Consumer:
    def __init__(self) -> None:
        self.seeks: list[tuple[TP, int]] = []

    async def seek(self, tp: TP, offset: int) -> None:
        self.seeks.append((tp, offset))

    async def read_again(self, tp: TP) -> None:
        self.seeks.append((tp, -1))


def _chains() -> tuple[Chains, _Consumer, Counter]:
    consumer = _Consumer()
    registry = CollectorRegistry()
    gaps = Counter("gaps", "", registry=registry)
    detector: Any = SimpleNamespace(
        chains=SimpleNamespace(data={}),
        quarantine=Quarantine(Counter("q", "", ("table",), registry=registry)),
        metrics=SimpleNamespace(partials_gaps=gaps),
        app=SimpleNamespace(consumer=consumer),
        topics=SimpleNamespace(partials=SimpleNamespace(get_topic_name=lambda: "partials")),
    )
    return Chains(detector), consumer, gaps


def _apply(chains: Chains, partition: int, offset: int, span: Span) -> None:
    value = chains.applied(partition, offset, span)
    if value is not None:
        chains.detector.chains.data[chains_table.key(partition)] = value


def test_a_gap_is_read_again_from_the_last_message_applied_then_given_up() -> None:
    chains, consumer, gaps = _chains()
    first = Span({0: (0, 9)}, frozenset({0}))

    async def run() -> None:
        assert await chains.admit(2, 40, first, 0.0)
        _apply(chains, 2, 40, first)
        assert not await chains.admit(2, 40, first, 1.0)  # Seen: skipped.
        after_gap = Span({0: (20, 29)})
        assert not await chains.admit(2, 44, after_gap, 2.0)
        assert consumer.seeks == [(TP("partials", 2), 41)]
        assert not await chains.admit(2, 44, after_gap, 3.0)  # Not again at once.
        assert not await chains.admit(2, 44, after_gap, 2.0 + READ_AGAIN_EVERY)
        assert len(consumer.seeks) == 2
        assert gaps._value.get() == 0
        assert await chains.admit(2, 44, after_gap, 2.0 + GAP_PATIENCE)  # Given up.
        assert gaps._value.get() == 1
        _apply(chains, 2, 44, after_gap)
        assert await chains.admit(2, 46, Span({0: (30, 39)}), 70.0)

    asyncio.run(run())


def test_a_source_never_applied_reads_every_partition_again_and_starts_without_loss() -> None:
    chains, consumer, gaps = _chains()
    later = Span({1: (50, 59)})

    async def run() -> None:
        assert not await chains.admit(0, 8, later, 0.0)
        assert consumer.seeks == [(TP("partials", 0), -1)]  # From its committed offset.
        assert await chains.admit(0, 8, later, GAP_PATIENCE)
        _apply(chains, 0, 8, later)
        assert gaps._value.get() == 0  # Nothing applied before it: nothing counted lost.
        assert await chains.admit(0, 10, Span({1: (60, 61)}), GAP_PATIENCE + 1)

    asyncio.run(run())


def test_the_ingest_marks_show_a_last_batch_dropped() -> None:
    chains, consumer, _ = _chains()
    first = Span({3: (0, 4)}, frozenset({3}))

    async def run() -> None:
        assert await chains.admit(1, 0, first, 0.0)
        _apply(chains, 1, 0, first)
        assert await chains.admit(1, 4, Span(marks={3: 4}), 1.0)
        assert not await chains.admit(1, 6, Span(marks={3: 9}), 2.0)  # 5-9 never came.
        assert consumer.seeks == [(TP("partials", 1), 1)]

    asyncio.run(run())
