"""HTTP ingest on a real worker and broker: calls POSTed as NDJSON and as a JSON array
are counted exactly by the worker; invalid ones are refused with reasons and
dead-lettered as Kafka ingest does; no token, no ingest."""

from __future__ import annotations

import time
from collections.abc import Callable

import aiohttp
import orjson
import pytest

from tests.integration.conftest import WorkerProcess, eventually
from tests.integration.metrics_scrape import scrape, value
from tests.integration.test_hostile_input import dead_letters

pytestmark = pytest.mark.integration

TOKEN = "php-site-token-0123456789"


async def test_posted_calls_are_counted_exactly(
    start_worker: Callable[..., WorkerProcess],
    worker_env: dict[str, str],
    kafka: str,
) -> None:
    worker = start_worker(DETECTOR_INGEST_TOKENS=f"php-site={TOKEN}")
    now = time.time()
    ndjson = b"\n".join(
        orjson.dumps(
            {
                "operation": "Shop.Checkout",
                "integration": "shop",
                "status": "failed" if i % 20 == 0 else "ok",
                "timestamp": now - i * 0.01,
                "error_code": "card_declined",
                "source_record": i,
            }
        )
        for i in range(2000)
    )
    array = orjson.dumps(
        [{"operation": "Shop.Refund", "status": "ok"}] * 300
        + [{"operation": "Shop.Refund", "count": 50, "errors": 5, "timestamp": now}]
        + [{"operation": "Shop.Refund", "status": "sideways"}]
    )
    async with aiohttp.ClientSession(
        headers={"Authorization": f"Bearer {TOKEN}"}, timeout=aiohttp.ClientTimeout(total=120)
    ) as http:
        async with http.post(f"{worker.url}/api/calls", data=ndjson) as response:
            assert response.status == 202, "".join(worker.log[-60:])
            assert (await response.json())["accepted"] == 2000
        async with http.post(f"{worker.url}/api/calls", data=array) as response:
            assert response.status == 202, "".join(worker.log[-60:])
            answer = await response.json()
            assert (answer["accepted"], answer["calls"], answer["rejected"]) == (301, 350, 1)
            assert answer["errors"][0]["index"] == 301
        async with http.post(
            f"{worker.url}/api/calls", data=ndjson, headers={"Authorization": "Bearer nope"}
        ) as response:
            assert response.status == 401

    def counted() -> None:
        m = scrape(worker.url)
        checkout = {"operation": "Shop.Checkout", "integration": "shop"}
        assert value(m, "detector_operation_calls_total", **checkout) == 2000
        assert value(m, "detector_operation_errors_total", **checkout) == 100
        refund = {"operation": "Shop.Refund", "integration": ""}
        assert value(m, "detector_operation_calls_total", **refund) == 350
        assert value(m, "detector_operation_errors_total", **refund) == 5
        assert value(m, "detector_http_ingest_calls_total", producer="php-site") == 2350
        assert value(m, "detector_http_ingest_requests_total", code="401") == 1
        assert value(m, "detector_invalid_events_total", reason="invalid") == 1

    await eventually(counted, within=60)
    [dead] = await dead_letters(kafka, f"{worker_env['DETECTOR_CALLS_TOPIC']}.invalid", 1)
    assert orjson.loads(dead.value) == {"operation": "Shop.Refund", "status": "sideways"}
    headers = dict(dead.headers)
    assert headers["x-detector-reason"] == b"invalid"
    assert headers["x-detector-source"] == b"http/php-site/301"
    assert b"status" in headers["x-detector-error"]
