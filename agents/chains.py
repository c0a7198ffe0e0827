"""Partials applied in their order, none skipped (``detector.partials.follows``): a message
that comes after one not applied yet has what is missing read from the partials topic
directly, applied first, then itself.

Faust delivers the partials at least once, but around a rebalance not always without
gaps: it clears its queues when it resumes, after it has sought back to the committed
offsets, so messages fetched in between are dropped for good while later ones flow on.
Seeking Faust's consumer back does not reliably give them again (messages fetched before
the seek move its read offset past them, and it drops what comes below), so the missing
range is read with a consumer of the fold agent's own, from just after the last message
applied of the sources behind, or, when nothing of the partition has been applied since
its assignment, from the partition's committed offset (a dropped message was never
acknowledged, so the committed offset never passed it), to the message at hand. The
messages read are acknowledged to Faust as if it had delivered them.

What is still missing after that is not on the topic (the partials topic keeps a day: a
fold agent down longer loses what it did not read): the gap is given up there, with an
error naming what is lost. A source with no batch applied here at all (once, after an
upgrade from a version without chains) starts its chain the same way, with a warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any, Literal

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from faust.types import TP, Message

from detector.partials import Chain, Span, advance, behind, follows, give_up
from tables import chains as chains_table

if TYPE_CHECKING:
    from agents.context import Detector

log = logging.getLogger(__name__)
READ_WITHIN = 30.0
"""Seconds to read a missing range before trying again with the next message."""

Admission = Literal["apply", "skip", "gap"]


class Chains:
    def __init__(self, detector: Detector) -> None:
        self.detector = detector
        # (partials partition, source partition) -> offset of the last message applied
        # that covered the source, since the partition was assigned.
        self.applied_at: dict[tuple[int, int], int] = {}
        self.reader: AIOKafkaConsumer | None = None

    def chain(self, partition: int) -> Chain:
        key = chains_table.key(partition)
        raw = self.detector.chains.data.get(key)
        if raw is None:
            return {}
        found: Chain | None = self.detector.quarantine.decode(
            chains_table.NAME, key, raw, chains_table.decode
        )
        return found or {}

    def admit(self, partition: int, offset: int, span: Span, definitive: bool) -> Admission:
        """Apply the message at ``offset`` of ``partition`` (the next of its chain), skip
        it (applied before), or not yet: it comes after a gap. ``definitive``: everything
        before it was read, so a gap is not on the topic and is given up here."""
        chain = self.chain(partition)
        verdict = follows(chain, span)
        if verdict == "seen":
            return "skip"
        if verdict == "next":
            return "apply"
        if not definitive:
            return "gap"
        self._give_up(partition, offset, behind(chain, span), chain)
        return "apply"

    def applied(self, partition: int, offset: int, span: Span) -> Any:
        """Note the message applied: the chain to store under the partition's key, or
        None if it did not change. A message applied with sources behind had its gap
        given up (``admit``): what is missing is noted as if applied."""
        chain = self.chain(partition)
        before = dict(chain)
        give_up(chain, span)
        advance(chain, span)
        for source in span.ranges:
            self.applied_at[partition, source] = offset
        return None if chain == before else chains_table.encode(chain)

    async def missing(
        self, partition: int, offset: int, span: Span
    ) -> list[tuple[int, bytes]] | None:
        """The messages of ``partition`` before ``offset`` from just after the last one
        applied of the sources behind (or from the committed offset), read directly;
        None if they could not be read now."""
        sources = behind(self.chain(partition), span)
        known = [self.applied_at.get((partition, s)) for s in sources]
        tp = TopicPartition(self.detector.topics.partials.get_topic_name(), partition)
        start: int | None
        try:
            if known and None not in known:
                start = min(o for o in known if o is not None) + 1
            else:
                start = await self._committed(tp)
            log.warning(
                "partials partition %d: the message at offset %d follows one of calls "
                "partitions %s not applied yet (dropped around a rebalance, or none since an "
                "upgrade); reading %s to it again",
                partition,
                offset,
                sorted(sources),
                "from the start" if start is None else f"from offset {start}",
            )
            return await asyncio.wait_for(self._read(tp, start, offset), READ_WITHIN)
        except (TimeoutError, KafkaError) as exc:
            log.warning(
                "reading partials partition %d again failed (%s); trying again with its next "
                "message",
                partition,
                exc or type(exc).__name__,
            )
            return None

    def acknowledge(self, partition: int, offset: int) -> None:
        """Acknowledge to Faust a message read directly: its committed offset may pass it."""
        topic = self.detector.topics.partials.get_topic_name()
        tp = TP(topic, partition)
        message = Message(topic, partition, offset, time.time(), 0, None, None, None, None, tp=tp)
        self.detector.app.consumer.ack(message)

    async def _committed(self, tp: TopicPartition) -> int | None:
        """The fold agent's committed offset of ``tp`` (None: nothing committed)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.detector.settings.broker)
        await admin.start()
        try:
            offsets = await admin.list_consumer_group_offsets(
                self.detector.settings.app_id, partitions=[tp]
            )
        finally:
            await admin.close()
        found = offsets.get(tp)
        return None if found is None or found.offset < 0 else int(found.offset)

    async def _read(
        self, tp: TopicPartition, start: int | None, end: int
    ) -> list[tuple[int, bytes]]:
        if self.reader is None:
            self.reader = AIOKafkaConsumer(
                bootstrap_servers=self.detector.settings.broker,
                isolation_level="read_committed",
                enable_auto_commit=False,
                max_partition_fetch_bytes=16 << 20,
            )
            await self.reader.start()
        reader = self.reader
        reader.assign([tp])
        if start is None:
            await reader.seek_to_beginning(tp)
        else:
            reader.seek(tp, start)
        out: list[tuple[int, bytes]] = []
        while await reader.position(tp) < end:
            for record in (await reader.getmany(tp, timeout_ms=1000)).get(tp, []):
                if record.offset < end and record.value is not None:
                    out.append((record.offset, record.value))
        return out

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

    async def stop(self) -> None:
        if self.reader is not None:
            with contextlib.suppress(KafkaError):
                await self.reader.stop()
            self.reader = None

    def forget(self, *_: Any) -> None:
        """Partitions moved: what was applied since the assignment starts anew."""
        self.applied_at.clear()
