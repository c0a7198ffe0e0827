"""The fold agent's consumer reads a partition again from its committed offset, or from
its beginning when nothing is committed, not from past the records fetched
(``agents.consistency.rewind``)."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import NewTopic

from agents.consistency import rewind
from tests.integration.conftest import create_topics

pytestmark = pytest.mark.integration


async def _offsets(consumer: AIOKafkaConsumer, count: int) -> list[int]:
    """The offsets of the next ``count`` records the consumer reads."""
    got: list[int] = []
    for _ in range(100):
        for messages in (await consumer.getmany(timeout_ms=200)).values():
            got += [m.offset for m in messages]
        if len(got) >= count:
            break
    return got


async def test_a_partition_is_read_again_from_the_committed_offset_or_the_start(
    kafka: str, unique: str, producer: AIOKafkaProducer
) -> None:
    topic = f"seek-{unique}"
    tp = TopicPartition(topic, 0)
    await create_topics(kafka, NewTopic(topic, 1, 1))
    for i in range(5):
        await producer.send_and_wait(topic, str(i).encode(), partition=0)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka,
        group_id=f"seek-{unique}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        assert await _offsets(consumer, 5) == [0, 1, 2, 3, 4]
        # Nothing committed: back to the start (aiokafka's seek_to_committed leaves it at 5).
        assert await rewind(consumer, tp) == 0
        assert await consumer.position(tp) == 0
        assert await _offsets(consumer, 5) == [0, 1, 2, 3, 4]
        await consumer.commit({tp: 3})
        assert await rewind(consumer, tp) == 3
        assert await _offsets(consumer, 2) == [3, 4]
    finally:
        await consumer.stop()
