"""Events followed through their lifecycle on the real broker: the live worker decides
exactly what `detector replay` decides for the same status messages (stuck events,
retries that never resolve); killed with events in flight, the next worker takes them
over from the changelogged in-flight table; the dashboard rows count the events in
flight and show failures recurring at one time of day."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiokafka import AIOKafkaProducer

from agents.users import put_user
from detector.access import User, token_digest
from detector.simulate import Profile
from detector.simulate_events import LifecycleIncident, lifecycle_events
from detector.status import Status, StatusChange
from tests.integration.conftest import WorkerProcess
from tests.integration.test_detection_live import publish, read_changes, replayed, wait_for
from tests.integration.test_log_browser import OPERATION, pattern, traffic
from tests.unit.web_helpers import TOKEN

pytestmark = pytest.mark.integration
SYNC = Profile("Crm.ContactSync", "crm", 6000, "flat", 0.0)
ORDERS = Profile("Shop.OrderSync", "shop", 3000, "flat", 0.0)


def history(now: int) -> tuple[list[dict[str, Any]], int, int]:
    """Six hours of lifecycle traffic ending ten minutes ago: events stuck in processing
    for an hour from three hours ago, and a destination down for an hour before that on
    the other operation. Also the boundary replay judges up to, and a cut in between."""
    start, end = now - 6 * 3600, now - 600
    incidents = [
        LifecycleIncident(SYNC.operation, "stuck", now - 3 * 3600, now - 2 * 3600),
        LifecycleIncident(ORDERS.operation, "retry_forever", now - 4 * 3600, now - 3 * 3600),
    ]
    records = [m for m in lifecycle_events([SYNC, ORDERS], incidents, start, end, seed=5)
               if m["timestamp"] < end]  # fmt: skip
    last = max(int(r["timestamp"]) for r in records)
    return records, last // 60 * 60, now - int(2.5 * 3600)


async def test_live_worker_and_replay_follow_events_alike(
    start_worker: Callable[..., WorkerProcess],
    producer: AIOKafkaProducer,
    worker_env: dict[str, str],
    kafka: str,
) -> None:
    records, judged_until, _ = history(int(time.time()))
    expected = replayed(records)
    reasons = " | ".join(c.reason for c in expected.values())
    assert "stuck in processing for more than 15 min" in reasons
    assert "retrying for more than 15 min: 503 destination unavailable" in reasons
    assert any(c.status is Status.MANY_PROBLEMS for c in expected.values())
    await publish(producer, worker_env["DETECTOR_CALLS_TOPIC"], records)
    start_worker()
    changes = await wait_for(kafka, worker_env["DETECTOR_STATUS_TOPIC"], set(expected))
    live = {c.id: c for c in changes}
    assert {i for i, c in live.items() if c.at.timestamp() <= judged_until} == set(expected)
    for change_id, change in expected.items():
        got = live[change_id].model_dump(exclude={"detected_at", "log_url"})
        assert got == change.model_dump(exclude={"detected_at", "log_url"})


async def test_a_worker_killed_with_events_in_flight_hands_them_over(
    start_worker: Callable[..., WorkerProcess],
    producer: AIOKafkaProducer,
    worker_env: dict[str, str],
    kafka: str,
) -> None:
    """Exactly what replay decides, to the event: the batches the first worker had not
    finished are applied once by the second (the lifecycle is stored before the counts
    that mark its batch applied, and a batch handed over again to a lifecycle that has
    it counts what it counted then), whenever the first one dies."""
    records, judged_until, cut = history(int(time.time()))
    expected = replayed(records)
    calls, status = worker_env["DETECTOR_CALLS_TOPIC"], worker_env["DETECTOR_STATUS_TOPIC"]
    # The first worker reads up to the middle of the stuck incident, then dies. It
    # judges only as it reads (no timer within the test): by the wall clock it would
    # judge the hours after the cut as silent before they are published.
    before = [r for r in records if r["timestamp"] < cut]
    await publish(producer, calls, before)
    first = start_worker(DETECTOR_EVALUATION_INTERVAL="3600")
    early = {i for i, c in replayed(before).items() if c.at.timestamp() < cut - 120}
    await wait_for(kafka, status, early)
    # Killed at any moment: maybe while it still writes its last batches.
    await asyncio.sleep(random.uniform(0, 3))
    first.kill()

    # A new worker recovers the events in flight (still stuck) and goes on.
    await publish(producer, calls, [r for r in records if r["timestamp"] >= cut])
    second = start_worker()
    wanted = {i: c for i, c in expected.items() if i not in early}
    got: dict[str, StatusChange] = {}
    for _ in range(90):
        changes = await read_changes(kafka, status)
        got = {c.id: c for c in changes if c.id not in early and c.at.timestamp() <= judged_until}
        if set(got) >= set(wanted):
            break
        await asyncio.sleep(1)
    assert set(got) == set(wanted)
    for change_id, change in wanted.items():
        mine = got[change_id].model_dump(exclude={"detected_at", "log_url"})
        assert mine == change.model_dump(exclude={"detected_at", "log_url"})
    second.stop()


async def test_dashboard_rows_count_the_events_in_flight_and_show_the_daily_pattern(
    start_worker: Callable[..., WorkerProcess],
    producer: AIOKafkaProducer,
    worker_env: dict[str, str],
) -> None:
    """The row's ``in_flight`` is exact and follows the events' outcomes; ``pattern``
    names failures that came back at the same hour on three days."""
    now = int(time.time())
    calls = worker_env["DETECTOR_CALLS_TOPIC"]
    await publish(producer, calls, traffic(now))
    users = Path(worker_env["DETECTOR_DATA_DIR"]) / "users.yaml"
    put_user(users, User(name="ops", role="admin", tokens=(token_digest(TOKEN),)))
    worker = start_worker(DETECTOR_EVALUATION_INTERVAL="2")
    url = f"{worker.url}/api/operations/{OPERATION}"
    headers = {"Authorization": f"Bearer {TOKEN}"}

    async def row() -> dict[str, Any]:
        async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as got:
            return await got.json() if got.status == 200 else {}

    async def in_flight(expected: int) -> None:
        found: dict[str, Any] = {}
        for _ in range(60):
            found = await row()
            if found.get("in_flight") == expected and found.get("pattern") == pattern(now):
                return
            await asyncio.sleep(1)
        raise AssertionError(f"wanted {expected} in flight and the pattern, got {found}")

    await in_flight(7)  # 4 stuck and 3 in processing.
    finished = [{"operation": OPERATION, "integration": "crm", "event_id": f"new-{i}",
                 "status": "delivered", "timestamp": time.time()} for i in range(3)]  # fmt: skip
    await publish(producer, calls, finished)
    await in_flight(4)
