"""What the fold agent misses is read from the partials topic directly: from just after
the last message applied of the sources behind, or from the committed offset when
nothing was applied since the assignment, up to the message at hand
(``agents.chains.Chains.missing``)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import NewTopic
from prometheus_client import CollectorRegistry, Counter

from agents.chains import Chains
from agents.quarantine import Quarantine
from detector import partials
from detector.partials import Span
from tables import chains as chains_table
from tests.integration.conftest import create_topics

pytestmark = pytest.mark.integration


async def test_the_missing_messages_are_read_from_the_last_applied_or_the_committed_offset(
    kafka: str, unique: str, producer: AIOKafkaProducer
) -> None:
    topic, group = f"partials-{unique}", f"fold-{unique}"
    await create_topics(kafka, NewTopic(topic, 1, 1))
    spans = [
        Span({0: (10 * i, 10 * i + 9)}, frozenset({0}) if i == 0 else frozenset()) for i in range(5)
    ]
    offsets = []
    for span in spans:
        [body] = partials.encode([], {0: False}, span)
        offsets.append((await producer.send_and_wait(topic, body, partition=0)).offset)
    registry = CollectorRegistry()
    detector: Any = SimpleNamespace(
        chains=SimpleNamespace(data={}),
        quarantine=Quarantine(Counter("q", "", ("table",), registry=registry)),
        metrics=SimpleNamespace(partials_gaps=Counter("g", "", registry=registry)),
        settings=SimpleNamespace(broker=kafka, app_id=group),
        topics=SimpleNamespace(partials=SimpleNamespace(get_topic_name=lambda: topic)),
    )
    chains = Chains(detector)
    try:
        # Nothing applied, nothing committed: from the start.
        missed = await chains.missing(0, offsets[4], spans[4])
        assert [at for at, _ in missed or []] == offsets[:4]
        assert [partials.decode(body)[2] for _, body in missed or []] == spans[:4]
        # The first applied: from the message after it.
        value = chains.applied(0, offsets[0], spans[0])
        detector.chains.data[chains_table.key(0)] = value
        missed = await chains.missing(0, offsets[4], spans[4])
        assert [at for at, _ in missed or []] == offsets[1:4]
        # Nothing applied since the assignment: from the committed offset.
        chains.forget()
        committer = AIOKafkaConsumer(bootstrap_servers=kafka, group_id=group)
        await committer.start()
        try:
            committer.assign([TopicPartition(topic, 0)])
            await committer.commit({TopicPartition(topic, 0): offsets[2]})
        finally:
            await committer.stop()
        missed = await chains.missing(0, offsets[4], spans[4])
        assert [at for at, _ in missed or []] == offsets[2:4]
    finally:
        await chains.stop()
