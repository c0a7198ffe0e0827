"""The operation log on the real broker: failed and retried calls forwarded by the
worker are read back for one operation and time range, with their payloads, newest
first; an entry whose payload has expired says so."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from agents.oplog import read_log
from agents.settings import load_settings
from detector.timeline import page
from tests.integration.conftest import WorkerProcess

pytestmark = pytest.mark.integration


async def test_failed_calls_are_logged_with_payloads(
    start_worker: Callable[..., WorkerProcess],
    producer: AIOKafkaProducer,
    worker_env: dict[str, str],
    kafka: str,
) -> None:
    start_worker()
    now = time.time()
    topic = worker_env["DETECTOR_CALLS_TOPIC"]
    events = [
        {"operation": "Website.Subscribe", "status": "ok", "timestamp": now - 50},
        {
            "operation": "Website.Subscribe",
            "status": "error",
            "timestamp": now - 40,
            "error_code": "invalid_email",
            "error_message": "no @ in <b>john</b>",
            "source_record": "form-1",
            "payload": {"email": "<script>alert(1)</script>"},
        },
        {"operation": "Website.Subscribe", "status": "retrying", "timestamp": now - 30},
        {"operation": "Other.Op", "status": "error", "timestamp": now - 20},
    ]
    for event in events:
        await producer.send(topic, orjson.dumps(event), key=str(event["operation"]).encode())
    await producer.flush()
    settings = load_settings(
        broker=kafka,
        calls_topic=topic,
        status_topic=worker_env["DETECTOR_STATUS_TOPIC"],
        log_topic=f"{topic}-log",
        payload_topic=f"{topic}-payloads",
    )
    found: list[object] = []

    async def logged() -> None:
        entries = await read_log(settings, "Website.Subscribe", now - 3600, now + 60)
        # The operation's first status change (learning) may be in the range too.
        found[:] = [e for e in entries if e.kind == "call"]
        assert len(found) == 2

    for _ in range(30):
        try:
            await logged()
            break
        except AssertionError:
            await asyncio.sleep(0.5)
    await logged()
    entries, total = page(found, statuses=None, kinds=None, number=1)  # type: ignore[arg-type]
    assert total == 2
    assert [e.status for e in entries] == ["retrying", "error"]
    failed = entries[1]
    assert failed.payload == {"email": "<script>alert(1)</script>"}
    assert failed.payload_state == "present"
    assert (failed.error_code, failed.source_record) == ("invalid_email", "form-1")
