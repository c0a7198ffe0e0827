"""A Faust app whose consumer the fold agent can count on exactly once: it reads in
``read_committed``, and it can read one partition again from its committed offset.

``read_committed``: the fold agent must never see the partial counts of an ingest
batch whose transaction was aborted (a crashed worker's batch is read and sent again;
counting both would count its calls twice). Faust sets it only together with its own
exactly-once mode (a producer per partition, transactions around every agent); the fold
agent needs only the isolation level, since it applies each partial once by its source
offsets.

Reading again (``agents.chains``): Faust drops messages it has fetched around a
rebalance. The fold agent notices the gap, and when it has applied nothing of the
partition since it was assigned, reads the partition again from its committed offset,
or from its beginning when nothing is committed (aiokafka's ``seek_to_committed``
leaves such a partition where it is, past what was dropped).
"""

from __future__ import annotations

from typing import Any, cast

import faust
from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.transport.drivers import aiokafka as faust_aiokafka


async def rewind(consumer: AIOKafkaConsumer, tp: TopicPartition) -> int:
    """Seek ``tp`` to its committed offset, or to its beginning if nothing (or offset 0)
    is committed; the offset. Sought at once, not reset lazily (``seek_to_beginning``):
    Faust reads every assigned partition's position, and a partition awaiting its reset
    has none (it crashed the consumer)."""
    offset: int | None = await consumer.committed(tp)
    if not offset:
        offset = int((await consumer.beginning_offsets([tp]))[tp])
    consumer.seek(tp, offset)
    return offset


class _ReadCommittedThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka hands this attribute to its fetcher at start; there is no setter.
        consumer._isolation_level = "read_committed"
        return consumer

    async def rewind(self, tp: TopicPartition) -> int:
        offset: int = await self.call_thread(rewind, self._ensure_consumer(), tp)
        return offset


class _ReadCommittedConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ReadCommittedThread(self, loop=self.loop, beacon=self.beacon)

    async def read_again(self, tp: TopicPartition) -> None:
        """Read ``tp`` again from its committed offset (its beginning if none), as
        Faust's ``seek`` does (its read offset moved back too, or the messages read
        again would be dropped as already read)."""
        thread = cast(_ReadCommittedThread, self._thread)
        self._read_offset[tp] = await thread.rewind(tp) or None


async def read_again(app: faust.App, tp: TopicPartition) -> None:
    """Read ``tp`` again from its committed offset (its beginning if none)."""
    await cast(_ReadCommittedConsumer, app.consumer).read_again(tp)


class ReadCommittedApp(faust.App):
    def _new_transport(self) -> Any:
        transport = super()._new_transport()
        transport.Consumer = _ReadCommittedConsumer  # type: ignore[misc]
        return transport
