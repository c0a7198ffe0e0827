"""The fold agent's chains: a message after a gap is held back and its partition read
again from the last message applied; when the first message held comes again still
after a gap, what is missing is not on the topic and the gap is given up there, counted
as lost only where an earlier batch of its source was applied."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from faust.types import TP
from prometheus_client import CollectorRegistry, Counter

from agents.chains import READ_AGAIN_EVERY, Chains
from agents.quarantine import Quarantine
from detector.partials import Span
from tables import chains as chains_table


class _Consumer:
    def __init__(self) -> None:
        self.seeks: list[tuple[TP, int]] = []

    async def seek(self, tp: TP, offset: int) -> None:
        self.seeks.append((tp, offset))

    async def read_again(self, tp: TP) -> None:
        self.seeks.append((tp, -1))  # From its committed offset.


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


async def _fold(chains: Chains, partition: int, offset: int, span: Span, now: float) -> str:
    """What the fold agent does with one message: admit it, and if applied, store the chain."""
    admission = await chains.admit(partition, offset, span, now)
    if admission == "apply":
        value = chains.applied(partition, offset, span)
        if value is not None:
            chains.detector.chains.data[chains_table.key(partition)] = value
    return admission


def test_a_dropped_message_is_read_again_and_the_held_ones_follow() -> None:
    chains, consumer, gaps = _chains()
    first, dropped, later = (
        Span({0: (0, 9)}, frozenset({0})),
        Span({0: (10, 19)}),
        Span({0: (20, 29)}),
    )

    async def run() -> None:
        assert await _fold(chains, 2, 40, first, 0.0) == "apply"
        assert await _fold(chains, 2, 40, first, 1.0) == "skip"  # Delivered twice.
        # The message at 42 (10-19) was dropped: 44 is held, the partition read again.
        assert await _fold(chains, 2, 44, later, 2.0) == "hold"
        assert consumer.seeks == [(TP("partials", 2), 41)]
        assert await _fold(chains, 2, 46, Span({0: (30, 39)}), 3.0) == "hold"  # Queued before.
        assert len(consumer.seeks) == 1  # Not read again at once.
        assert await _fold(chains, 2, 42, dropped, 3.5) == "apply"
        assert await _fold(chains, 2, 44, later, 3.6) == "apply"
        assert gaps._value.get() == 0

    asyncio.run(run())


def test_a_gap_not_on_the_topic_is_given_up_where_the_first_held_comes_again() -> None:
    chains, consumer, gaps = _chains()
    first, later = Span({0: (0, 9)}, frozenset({0})), Span({0: (20, 29)})

    async def run() -> None:
        assert await _fold(chains, 2, 40, first, 0.0) == "apply"
        assert await _fold(chains, 2, 44, later, 2.0) == "hold"
        assert await _fold(chains, 2, 46, Span({0: (30, 39)}), 2.1) == "hold"
        assert await _fold(chains, 2, 46, Span({0: (30, 39)}), 2.0 + READ_AGAIN_EVERY) == "hold"
        assert len(consumer.seeks) == 2  # Read again once more, later.
        # Read again from 41: the first held comes again, still after the gap.
        assert await _fold(chains, 2, 44, later, 8.0) == "apply"
        assert gaps._value.get() == 1
        assert await _fold(chains, 2, 46, Span({0: (30, 39)}), 8.1) == "apply"

    asyncio.run(run())


def test_a_source_never_applied_starts_from_the_committed_offset_without_loss() -> None:
    chains, consumer, gaps = _chains()
    later = Span({1: (50, 59)})

    async def run() -> None:
        assert await _fold(chains, 0, 8, later, 0.0) == "hold"
        assert consumer.seeks == [(TP("partials", 0), -1)]
        assert await _fold(chains, 0, 8, later, 1.0) == "apply"  # Nothing before it.
        assert gaps._value.get() == 0  # Nothing applied before it: nothing counted lost.
        assert await _fold(chains, 0, 10, Span({1: (60, 61)}), 2.0) == "apply"

    asyncio.run(run())


def test_the_ingest_marks_show_a_last_batch_dropped() -> None:
    chains, consumer, _ = _chains()
    first = Span({3: (0, 4)}, frozenset({3}))

    async def run() -> None:
        assert await _fold(chains, 1, 0, first, 0.0) == "apply"
        assert await _fold(chains, 1, 4, Span(marks={3: 4}), 1.0) == "apply"
        assert await _fold(chains, 1, 6, Span(marks={3: 9}), 2.0) == "hold"  # 5-9 never came.
        assert consumer.seeks == [(TP("partials", 1), 1)]

    asyncio.run(run())
