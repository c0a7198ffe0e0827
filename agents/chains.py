"""Partials applied in their order, none skipped (``detector.partials.follows``): a message
that comes after one not applied yet is held back (not acknowledged), and its partition
is read again from the last message applied.

Faust delivers the partials at least once, but around a rebalance not always without
gaps: it clears its queues when it resumes, after it has sought back to the committed
offsets, so messages fetched in between are dropped for good while later ones flow on.
Reading again from the gap gives the missing messages, then the held ones, in order.
A held message is not acknowledged, so the committed offset never passes it (nor a
dropped one, never acknowledged either): reading again from the committed offset, when
nothing of the partition has been applied since its assignment, finds them too.

When the first message held is delivered again and still comes after a gap, what is
missing is not on the topic (the partials topic keeps a day: a fold agent down longer
loses what it did not read): the gap is given up there, with an error naming what is
lost. A source with no batch applied here at all (once, after an upgrade from a version
without chains) starts its chain the same way, with a warning.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from faust.types import TP

from agents.consistency import read_again
from detector.partials import Chain, Span, advance, behind, follows, give_up
from tables import chains as chains_table

if TYPE_CHECKING:
    from agents.context import Detector

log = logging.getLogger(__name__)
READ_AGAIN_EVERY = 5.0
"""Seconds before a gap not filled yet is read again (the first time: at once)."""

Admission = Literal["apply", "skip", "hold"]


@dataclass(slots=True)
class _Gap:
    held_from: int  # The offset of the first message held.
    read_again_at: float = float("-inf")
    sought: bool = False  # Read again since: a message up to ``held_from`` is a re-delivery.


class Chains:
    def __init__(self, detector: Detector) -> None:
        self.detector = detector
        # (partials partition, source partition) -> offset of the last message applied
        # that covered the source, since the partition was assigned.
        self.applied_at: dict[tuple[int, int], int] = {}
        self.gaps: dict[int, _Gap] = {}
        self.given_up: set[int] = set()  # Partitions whose next ``applied`` gives a gap up.

    def chain(self, partition: int) -> Chain:
        key = chains_table.key(partition)
        raw = self.detector.chains.data.get(key)
        if raw is None:
            return {}
        found: Chain | None = self.detector.quarantine.decode(
            chains_table.NAME, key, raw, chains_table.decode
        )
        return found or {}

    async def admit(self, partition: int, offset: int, span: Span, now: float) -> Admission:
        """Apply the message at ``offset`` of ``partition`` (the next of its chain, or the
        first held after a gap that is not on the topic), skip it (applied before), or
        hold it (it comes after a gap: the partition is read again from the gap)."""
        chain = self.chain(partition)
        verdict = follows(chain, span)
        if verdict == "seen":
            return "skip"
        if verdict == "next":
            self.gaps.pop(partition, None)
            return "apply"
        late = behind(chain, span)
        gap = self.gaps.setdefault(partition, _Gap(offset))
        if gap.sought and offset <= gap.held_from:
            del self.gaps[partition]
            self.given_up.add(partition)
            self._give_up(partition, offset, late, chain)
            return "apply"
        if now - gap.read_again_at >= READ_AGAIN_EVERY:
            gap.read_again_at = now
            gap.sought = True
            await self._read_again(partition, offset, late)
        return "hold"

    def applied(self, partition: int, offset: int, span: Span) -> Any:
        """Note the message applied: the chain to store under the partition's key, or
        None if it did not change."""
        chain = self.chain(partition)
        before = dict(chain)
        if partition in self.given_up:
            self.given_up.discard(partition)
            give_up(chain, span)
        advance(chain, span)
        for source in span.ranges:
            self.applied_at[partition, source] = offset
        return None if chain == before else chains_table.encode(chain)

    def _give_up(self, partition: int, offset: int, late: set[int], chain: Chain) -> None:
        lost = sorted(s for s in late if s in chain)
        if lost:
            self.detector.metrics.partials_gaps.inc()
            log.error(
                "partials partition %d: ingest batches of calls partitions %s before offset "
                "%d are not on the topic; their calls are not counted (was the fold agent "
                "down longer than the partials topic keeps them?)",
                partition,
                lost,
                offset,
            )
        if len(lost) < len(late):
            log.warning(
                "partials partition %d: no batch before offset %d of calls partitions %s was "
                "ever applied here; their chain starts there (once after upgrading from a "
                "version without fold chains, or if the calls topic's first offsets could "
                "not be read)",
                partition,
                offset,
                sorted(late.difference(lost)),
            )

    async def _read_again(self, partition: int, offset: int, sources: set[int]) -> None:
        """Seek to just after the last message applied of ``sources`` (what is missing
        comes after it; messages applied since are skipped as seen), or, if one has none
        since the assignment, to the partition's committed offset (nothing after it is
        acknowledged: what was dropped is not)."""
        consumer = self.detector.app.consumer
        known = [self.applied_at.get((partition, s)) for s in sources]
        last = min(o for o in known if o is not None) if known and None not in known else None
        log.warning(
            "partials partition %d: the message at offset %d follows one of calls partitions "
            "%s not applied yet (dropped around a rebalance); reading again from %s",
            partition,
            offset,
            sorted(sources),
            "its committed offset" if last is None else f"offset {last + 1}",
        )
        tp = TP(self.detector.topics.partials.get_topic_name(), partition)
        if last is None:
            await read_again(self.detector.app, tp)
        else:
            await consumer.seek(tp, last + 1)

    def forget(self, *_: Any) -> None:
        """Partitions moved: Faust reads each from its committed offset again."""
        self.applied_at.clear()
        self.gaps.clear()
        self.given_up.clear()
