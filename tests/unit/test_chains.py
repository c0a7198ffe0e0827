"""The fold agent's chains: a message after a gap waits for what is missing to be read;
once everything before it was read, a gap left is given up, counted as lost only where
an earlier batch of its source was applied."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from agents.chains import Chains
from agents.quarantine import Quarantine
from detector.partials import Span
from tables import chains as chains_table


def _chains() -> tuple[Chains, Counter]:
    registry = CollectorRegistry()
    gaps = Counter("gaps", "", registry=registry)
    detector: Any = SimpleNamespace(
        chains=SimpleNamespace(data={}),
        quarantine=Quarantine(Counter("q", "", ("table",), registry=registry)),
        metrics=SimpleNamespace(partials_gaps=gaps),
    )
    return Chains(detector), gaps


def _fold(chains: Chains, partition: int, offset: int, span: Span, definitive: bool) -> str:
    """What the fold agent does with one message: admit it, and if applied, store the chain."""
    admission = chains.admit(partition, offset, span, definitive)
    if admission == "apply":
        value = chains.applied(partition, offset, span)
        if value is not None:
            chains.detector.chains.data[chains_table.key(partition)] = value
    return admission


def test_a_message_after_a_gap_waits_for_what_is_missing() -> None:
    chains, gaps = _chains()
    first, dropped, later = (
        Span({0: (0, 9)}, frozenset({0})),
        Span({0: (10, 19)}),
        Span({0: (20, 29)}),
    )
    assert _fold(chains, 2, 40, first, False) == "apply"
    assert _fold(chains, 2, 40, first, False) == "skip"  # Delivered twice.
    assert _fold(chains, 2, 44, later, False) == "gap"
    assert chains.applied_at == {(2, 0): 40}  # Read again from 41.
    assert _fold(chains, 2, 42, dropped, True) == "apply"  # Read directly.
    assert _fold(chains, 2, 44, later, True) == "apply"
    assert gaps._value.get() == 0


def test_a_gap_not_on_the_topic_is_given_up_once_everything_before_was_read() -> None:
    chains, gaps = _chains()
    first, later = Span({0: (0, 9)}, frozenset({0})), Span({0: (20, 29)})
    assert _fold(chains, 2, 40, first, False) == "apply"
    assert _fold(chains, 2, 44, later, True) == "apply"  # 10-19 is not on the topic.
    assert gaps._value.get() == 1
    assert _fold(chains, 2, 46, Span({0: (30, 39)}), False) == "apply"


def test_a_source_never_applied_starts_its_chain_without_counting_a_loss() -> None:
    chains, gaps = _chains()
    assert _fold(chains, 0, 8, Span({1: (50, 59)}), False) == "gap"
    assert chains.applied_at == {}  # Read again from the committed offset.
    assert _fold(chains, 0, 8, Span({1: (50, 59)}), True) == "apply"
    assert gaps._value.get() == 0
    assert _fold(chains, 0, 10, Span({1: (60, 61)}), False) == "apply"


def test_the_ingest_marks_show_a_last_batch_dropped() -> None:
    chains, _ = _chains()
    assert _fold(chains, 1, 0, Span({3: (0, 4)}, frozenset({3})), False) == "apply"
    assert _fold(chains, 1, 4, Span(marks={3: 4}), False) == "apply"
    assert _fold(chains, 1, 6, Span(marks={3: 9}), False) == "gap"  # 5-9 never came.
