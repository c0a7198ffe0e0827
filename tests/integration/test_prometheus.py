"""deploy/prometheus/ against the real thing: a Prometheus server scrapes a running
worker with the shipped scrape config and evaluates the shipped rules; the detection
alert goes pending for the broken operation, the recording rules compute from the
worker's series, and the worker-down alert follows the worker's stop."""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from aiokafka import AIOKafkaProducer

from detector.simulate import PROFILES, Incident, generate
from tests.integration.conftest import ROOT, WorkerProcess, afternoon, eventually
from tests.integration.servers import Server, prometheus

pytestmark = pytest.mark.integration
PROM = ROOT / "deploy/prometheus"
JOB = "integration-health-detector"


def config_for(target: str, tmp_path: Path) -> Path:
    """The shipped prometheus.yml, pointed at the test's worker, scraping every second."""
    config = yaml.safe_load((PROM / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(PROM / r) for r in config["rule_files"]]
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == JOB]
    job["static_configs"] = [{"targets": [target]}]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def alerts(server: Server, name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = server.get("/api/v1/alerts")["data"]["alerts"]
    return [a for a in found if a["labels"]["alertname"] == name]


def query(server: Server, expr: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = server.get(
        "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    )["data"]["result"]
    return result


async def send(producer: AIOKafkaProducer, topic: str, records: list[dict[str, Any]]) -> None:
    for record in records:
        await producer.send(topic, orjson.dumps(record), key=str(record["operation"]).encode())
    await producer.flush()


async def test_prometheus_scrapes_the_worker_and_evaluates_the_rules(
    start_worker: Callable[..., WorkerProcess],
    producer: AIOKafkaProducer,
    worker_env: dict[str, str],
    tmp_path: Path,
) -> None:
    topic = worker_env["DETECTOR_CALLS_TOPIC"]
    now = int(time.time())
    incident = Incident("Website.Subscribe", "all_failing", now - 1200, now + 600)
    await send(
        producer,
        topic,
        list(
            generate(PROFILES[:3], [incident], now - 4 * 3600, now - 60, utc_offset=afternoon(now))
        ),
    )
    worker = start_worker()
    server = prometheus(config_for(f"127.0.0.1:{worker.port}", tmp_path), tmp_path / "tsdb")
    server.start()
    try:

        def problem_pending() -> None:
            found = alerts(server, "IntegrationOperationProblem")
            assert len(found) == 1, found
            alert = found[0]
            assert alert["state"] in {"pending", "firing"}
            labels = alert["labels"]
            assert labels["operation"] == "Website.Subscribe"
            assert (labels["status"], labels["severity"]) == ("many_problems", "critical")

        await eventually(problem_pending, within=90, every=1)

        # Live failing traffic after the first scrapes: the error ratio is all errors.
        live = {"operation": "Website.Subscribe", "integration": "website", "count": 40}
        for _ in range(3):
            await send(producer, topic, [{**live, "timestamp": time.time(), "errors": 40}])
            await asyncio.sleep(1.5)

        def recorded() -> None:
            ratio = query(server, 'detector:operation_error_ratio:rate5m{operation=~"Website.S.*"}')
            assert [float(r["value"][1]) for r in ratio] == [1.0]
            count = query(server, 'detector:operations_in_problem:count{integration="website"}')
            assert [(r["metric"]["status"], r["value"][1]) for r in count] == [
                ("many_problems", "1")
            ]
            delay = query(server, "detector:judging_delay_seconds:max")
            assert len(delay) == 1
            assert 0 < float(delay[0]["value"][1]) < 900

        await eventually(recorded, within=30, every=1)
        groups = server.get("/api/v1/rules")["data"]["groups"]
        rules = [r for g in groups for r in g["rules"]]
        assert len(rules) >= 19
        assert [r["name"] for r in rules if r["health"] != "ok"] == []
        assert alerts(server, "DetectorWorkerDown") == []

        worker.stop()

        def worker_down() -> None:
            found = alerts(server, "DetectorWorkerDown")
            assert len(found) == 1
            assert found[0]["state"] == "pending"  # for: 2m
            assert found[0]["labels"]["instance"] == f"127.0.0.1:{worker.port}"

        await eventually(worker_down, within=20, every=0.5)
    finally:
        server.stop()
