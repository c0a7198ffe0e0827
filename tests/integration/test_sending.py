"""Messages handed to the producer a record batch at a time land where ``send`` would
put them, in order, with their keys, headers and timestamps, inside the transaction."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import NewTopic

from agents.sending import Message, send_and_wait
from tests.integration.conftest import create_topics

pytestmark = pytest.mark.integration


async def _read(kafka: str, topic: str, count: int) -> dict[int, list[tuple[Any, ...]]]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    await consumer.start()
    got: dict[int, list[tuple[Any, ...]]] = {}
    try:
        seen = 0
        for _ in range(50):
            for tp, messages in (await consumer.getmany(timeout_ms=200)).items():
                got.setdefault(tp.partition, []).extend(
                    (m.key, m.value, list(m.headers), m.timestamp) for m in messages
                )
                seen += len(messages)
            if seen >= count:
                break
    finally:
        await consumer.stop()
    return got


async def test_batched_messages_land_as_sends_do(kafka: str, unique: str) -> None:
    topics = [f"sending-{unique}-batched", f"sending-{unique}-sent"]
    big_messages = {"max.message.bytes": str(8 << 20)}
    await create_topics(kafka, *(NewTopic(t, 3, 1, topic_configs=big_messages) for t in topics))
    big = b"x" * (3 << 20)  # Larger than a record batch: it goes alone.
    rows: list[tuple[bytes | None, bytes, list[tuple[str, bytes]], int | None, int | None]] = [
        (
            f"op{i % 7}".encode(),
            f"v{i}".encode(),
            [("n", str(i).encode())],
            1_700_000_000_000 + i,
            None,
        )
        for i in range(3000)
    ]
    rows[10] = (b"op1", big, [], 1_700_000_000_010, None)
    rows[20] = (b"op2", b"to partition 2", [], 1_700_000_000_020, 2)
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka,
        transactional_id=f"sending-{uuid.uuid4().hex}",
        max_batch_size=1 << 20,
        max_request_size=8 << 20,
    )
    await producer.start()
    try:
        async with producer.transaction():
            messages: list[Message] = [(topics[0], *row) for row in rows]
            await send_and_wait(producer, messages)
        async with producer.transaction():
            for key, value, headers, stamp, partition in rows:
                await producer.send(
                    topics[1],
                    value,
                    key=key,
                    headers=headers,
                    timestamp_ms=stamp,
                    partition=partition,
                )
    finally:
        await producer.stop()
    batched, sent = [await _read(kafka, t, len(rows)) for t in topics]
    assert batched == sent
    assert sum(len(m) for m in batched.values()) == len(rows)
    assert len(batched) == 3  # The keys really spread over the partitions.
