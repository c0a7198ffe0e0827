"""The log reader alone on the real broker: it seeks one operation's partition to the
range start by time, keeps only that operation's entries in range, adds its status
changes, and tells an expired payload from one that is merely missing."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import NewTopic

from agents.oplog import read_log
from agents.settings import load_settings
from detector.oplog import LogEntry
from detector.status import Status, StatusChange
from tests.integration.conftest import create_topics

pytestmark = pytest.mark.integration
DAY = 86400.0


def _entry(id_: str, operation: str, at: float) -> LogEntry:
    return LogEntry(
        id=id_,
        kind="call",
        operation=operation,
        timestamp=at,
        status="error",
        payload_state="present",
    )


async def _send(producer: AIOKafkaProducer, topic: str, key: str, value: bytes, at: float) -> None:
    await producer.send(topic, value, key=key.encode(), timestamp_ms=int(at * 1000))


async def test_reader_serves_one_operation_in_range_with_changes_and_payload_states(
    kafka: str, unique: str, producer: AIOKafkaProducer
) -> None:
    names = {
        "log_topic": f"{unique}-log",
        "payload_topic": f"{unique}-pl",
        "status_topic": f"{unique}-st",
    }
    await create_topics(kafka, *(NewTopic(n, 3, 1) for n in names.values()))
    now = time.time()
    op = "Website.Subscribe"
    rows = [
        ("old", op, now - 9 * DAY),
        ("kept", op, now - 60),
        ("lost", op, now - 30),
        ("far", op, now - 20 * DAY),
        ("other", "Other.Op", now - 50),
    ]
    for id_, operation, at in rows:
        await _send(
            producer,
            names["log_topic"],
            operation,
            _entry(id_, operation, at).model_dump_json().encode(),
            at,
        )
    await _send(
        producer,
        names["payload_topic"],
        op,
        orjson.dumps({"id": "kept", "payload": "<b>"}),
        now - 60,
    )
    change = StatusChange(
        id="chg",
        operation=op,
        previous=Status.OK,
        status=Status.SOME_PROBLEMS,
        at=datetime.fromtimestamp(now - 45, UTC),
        reason="3 of 10 failed",
    )
    await _send(producer, names["status_topic"], op, change.model_dump_json().encode(), now - 45)
    await producer.flush()
    settings = load_settings(broker=kafka, **names)
    found = {e.id: e for e in await read_log(settings, op, now - 10 * DAY, now, now=now)}
    assert set(found) == {"old", "kept", "lost", "chg"}
    assert (found["kept"].payload_state, found["kept"].payload) == ("present", "<b>")
    assert found["old"].payload_state == "expired"
    assert found["lost"].payload_state == "unavailable"
    assert (found["chg"].kind, found["chg"].status) == ("status_change", "some_problems")
