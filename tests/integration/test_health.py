"""/healthz and /readyz on a worker against the real broker: open, and honest about the
broker, the consumer lag and the newest judged window."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from agents.health import broker_reachable
from tests.integration.conftest import WorkerProcess, eventually, free_port

pytestmark = pytest.mark.integration


def get(url: str) -> tuple[int, dict[str, object]]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, orjson.loads(response.read())


async def test_health_and_readiness(
    start_worker: Callable[..., WorkerProcess],
    producer: AIOKafkaProducer,
    worker_env: dict[str, str],
) -> None:
    worker = start_worker()
    assert get(f"{worker.url}/healthz") == (200, {"status": "ok"})
    event = {"operation": "Web.Form", "status": "ok", "timestamp": time.time() - 300}
    await producer.send(
        worker_env["DETECTOR_CALLS_TOPIC"], key=b"Web.Form", value=orjson.dumps(event)
    )
    await producer.flush()

    def ready() -> None:
        status, body = get(f"{worker.url}/readyz")
        assert status == 200
        assert body["broker"] is True
        assert body["consumer_lag"] == 0
        assert isinstance(body["last_judged_window_end"], int)

    await eventually(ready)


async def test_an_unreachable_broker_is_reported(kafka: str) -> None:
    assert not await broker_reachable(f"127.0.0.1:{free_port()}")
    assert await broker_reachable(f"127.0.0.1:{free_port()},{kafka}")
