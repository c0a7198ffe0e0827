"""A Faust app whose consumer the fold agent can count on exactly once: it reads in
``read_committed``, and after a rebalance it reads again every record Faust dropped.

``read_committed``: the fold agent must never see the partial counts of an ingest
batch whose transaction was aborted (a crashed worker's batch is read and sent again;
counting both would count its calls twice). Faust sets it only together with its own
exactly-once mode (a producer per partition, transactions around every agent); the fold
agent needs only the isolation level, since it applies each partial once by its source
offsets.

Reading again: when a rebalance begins, Faust drops the records it has fetched but not
yet handed to the agents (the consumer's position is already past them) and counts on
seeking every partition back to its committed offset once the rebalance is done.
aiokafka's ``seek_to_committed`` leaves a partition with nothing committed where it is,
so the first partials of a new partition could be dropped for good: a whole ingest
batch folded by no one (seen as some 60-1,300 calls missing in one run of five of the
three-worker kill test). Such a partition is read again from its beginning, as
``auto_offset_reset="earliest"`` would on a first assignment.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.transport.drivers import aiokafka as faust_aiokafka


async def seek_to_committed(
    consumer: AIOKafkaConsumer, skip: Collection[str] = ()
) -> dict[TopicPartition, int | None]:
    """Seek every assigned partition to its committed offset, and to its beginning where
    nothing (or offset 0) is committed, except those of the topics in ``skip`` (Faust
    positions its changelogs itself); the committed offsets."""
    committed: dict[TopicPartition, int | None] = await consumer.seek_to_committed()
    unset = [tp for tp, offset in committed.items() if not offset and tp.topic not in skip]
    if unset:
        # Sought now, not reset lazily (``seek_to_beginning``): Faust reads every assigned
        # partition's position, and a partition awaiting its reset has none (it crashed
        # the consumer).
        for tp, offset in (await consumer.beginning_offsets(unset)).items():
            consumer.seek(tp, offset)
    return committed


class _ReadCommittedThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka hands this attribute to its fetcher at start; there is no setter.
        consumer._isolation_level = "read_committed"
        return consumer

    async def seek_to_committed(self) -> Any:
        changelogs = self.app.tables.changelog_topics
        return await self.call_thread(seek_to_committed, self._ensure_consumer(), changelogs)


class _ReadCommittedConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ReadCommittedThread(self, loop=self.loop, beacon=self.beacon)


class ReadCommittedApp(faust.App):
    def _new_transport(self) -> Any:
        transport = super()._new_transport()
        transport.Consumer = _ReadCommittedConsumer  # type: ignore[misc]
        return transport
