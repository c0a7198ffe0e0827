"""The Alertmanager output against a real Alertmanager: a problem becomes a firing alert
with its labels and annotations, its ``endsAt`` moves on while the problem stands, a
change during an Alertmanager outage is retried until it gets there, and the recovery
resolves the alert at once (long before its ``endsAt``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from detector.status import Status
from tests.integration.conftest import WorkerProcess, eventually, free_port
from tests.integration.servers import Server, alertmanager
from tests.integration.test_notify_worker import (  # noqa: F401 (fixtures)
    notify_env,
    publish,
    workers,
)
from tests.unit.notify_helpers import change

pytestmark = pytest.mark.integration
REPEAT = 3  # seconds between re-posts of a standing problem (the alert lives 4 of them)


def active(server: Server, operation: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = server.get("/api/v2/alerts?active=true")
    now = time.time()
    return [
        a
        for a in found
        if a["labels"].get("operation") == operation
        and datetime.fromisoformat(a["endsAt"]).timestamp() > now
    ]


async def test_alerts_fire_refresh_survive_an_outage_and_resolve(
    notify_env: dict[str, str],  # noqa: F811
    workers: Callable[[], WorkerProcess],  # noqa: F811
    producer: AIOKafkaProducer,
    tmp_path: Path,
) -> None:
    config = tmp_path / "alertmanager.yml"
    config.write_text('route: {receiver: "null"}\nreceivers: [{name: "null"}]\n')
    port = free_port()
    server = alertmanager(config, tmp_path / "am", port).start()
    try:
        Path(notify_env["DETECTOR_NOTIFY_SUBSCRIPTIONS"]).write_text(  # noqa: ASYNC240
            f"subscribers:\n  - alertmanager: {server.url}\n    operations: ['*']\n"
            f"    repeat_interval: {REPEAT}s\n"
        )
        worker = workers()
        topic = notify_env["DETECTOR_STATUS_TOPIC"]
        t0 = time.time() - 120
        observed = {"calls": 40, "errors": 40, "error_codes": {"503": 40}}
        await publish(producer, topic, change("A.a", at=t0, observed=observed))

        def firing(status: str) -> dict[str, Any]:
            found = active(server, "A.a")
            assert [a["labels"]["status"] for a in found] == [status]
            return found[0]

        await eventually(lambda: firing("many_problems"), within=30)
        alert = firing("many_problems")
        assert alert["labels"] == {
            "alertname": "IntegrationOperationProblem",
            "operation": "A.a",
            "integration": "payments",
            "status": "many_problems",
            "severity": "critical",
        }
        notes = alert["annotations"]
        assert notes["reason"] == "42% of calls failed; about 1% expected"
        assert notes["observed_vs_expected"].startswith("observed calls 40, errors 40")
        assert notes["log_url"].startswith("http://dash.example/operations/A.a/log?from=")
        assert alert["generatorURL"] == notes["log_url"]
        assert abs(datetime.fromisoformat(alert["startsAt"]).timestamp() - t0) < 1
        first_end = datetime.fromisoformat(alert["endsAt"]).timestamp()
        assert time.time() < first_end <= time.time() + 4 * REPEAT + 1

        def refreshed() -> None:
            assert datetime.fromisoformat(firing("many_problems")["endsAt"]).timestamp() > (
                first_end + REPEAT - 1
            )

        await eventually(refreshed, within=4 * REPEAT)

        # Outage: the change made meanwhile is retried until Alertmanager is back.
        server.stop()
        eased = change(
            "A.a", previous=Status.MANY_PROBLEMS, status=Status.SOME_PROBLEMS, at=t0 + 60
        )
        await publish(producer, topic, eased)
        await eventually(lambda: _logged(worker, "(alertmanager): refused"), within=15)
        await asyncio.sleep(3)
        server = alertmanager(config, tmp_path / "am", port).start()
        await eventually(lambda: firing("some_problems"), within=15)
        assert firing("some_problems")["labels"]["severity"] == "warning"

        # Recovery resolves the alert at once, not by letting it run out.
        last_end = datetime.fromisoformat(firing("some_problems")["endsAt"]).timestamp()
        back = change("A.a", previous=Status.SOME_PROBLEMS, status=Status.OK, at=t0 + 90)
        await publish(producer, topic, back)
        await eventually(lambda: _none(server), within=REPEAT * 4)
        assert time.time() < last_end
    finally:
        server.stop()


def _logged(worker: WorkerProcess, text: str) -> None:
    assert any(text in line and "retrying" in line for line in worker.log)


def _none(server: Server) -> None:
    assert active(server, "A.a") == []
