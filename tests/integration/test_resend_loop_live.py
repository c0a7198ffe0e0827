"""A resend loop on the real broker: a consumer sending the same 12 records again and
again becomes a status change on `operation-status`, exactly the one `detector replay`
decides for the same calls."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from detector.status import Status
from tests.integration.conftest import WorkerProcess
from tests.integration.test_detection_live import published_live, replayed

pytestmark = pytest.mark.integration
OPERATION = "Shop.Order"


def history(now: int) -> tuple[list[dict[str, Any]], int]:
    """Four hours of an order form sending an id with each of its 4 calls a minute, ending
    ten minutes ago; from an hour and a half ago, for 30 minutes, 12 records sent again
    and again (6 more calls a minute). Also the boundary replay judges up to."""
    start, end, loop = now - 4 * 3600, now - 600, now - 5400
    records: list[dict[str, Any]] = []
    for minute, ts in enumerate(range(start, end, 60)):
        records += [
            {
                "operation": OPERATION,
                "status": "success",
                "timestamp": ts + 10 * i,
                "source_record": f"order-{minute}-{i}",
            }
            for i in range(4)
        ]
        if loop <= ts < loop + 1800:
            records += [
                {
                    "operation": OPERATION,
                    "status": "success",
                    "timestamp": ts + 45 + j,
                    "source_record": f"stuck-{(minute + j) % 12}",
                }
                for j in range(6)
            ]
    last = max(int(r["timestamp"]) for r in records)
    return records, last // 60 * 60


async def test_a_resend_loop_becomes_a_status_change_live_as_in_replay(
    start_worker: Callable[..., WorkerProcess],
    producer: AIOKafkaProducer,
    worker_env: dict[str, str],
    kafka: str,
) -> None:
    records, judged_until = history(int(time.time()))
    expected = replayed(records)
    loops = [c for c in expected.values() if "(a resend loop?)" in c.reason]
    assert Status.MANY_PROBLEMS in {c.status for c in loops}
    changes = await published_live(records, expected, start_worker, producer, worker_env, kafka)
    wall = {"detected_at", "log_url"}
    within = {i: c for i, c in changes.items() if c.at.timestamp() <= judged_until}
    live = {i: c.model_dump(exclude=wall) for i, c in within.items()}
    assert live == {i: c.model_dump(exclude=wall) for i, c in expected.items()}
