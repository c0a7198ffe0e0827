"""Every metric the Grafana dashboard queries is one a live worker exports at /metrics
(with notifications on and some history judged, so the gauges that need state exist)."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from detector.simulate import PROFILES, Incident, generate
from tests.integration.conftest import WorkerProcess, afternoon, eventually, free_port
from tests.integration.test_prometheus import send
from tests.unit.dashboard_queries import metric_names, queries

pytestmark = pytest.mark.integration
# Made by Prometheus itself, not by the worker.
FROM_PROMETHEUS = {"up"}
_SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count")}


def exported(url: str) -> set[str]:
    """Every series name the worker declares, whether or not it has a sample yet."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
        text = response.read().decode()
    names = set()
    for family in text_string_to_metric_families(text):
        names |= {s.name for s in family.samples}
        names |= {family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",))}
    return names


async def test_every_dashboard_metric_is_exported_by_a_worker(
    start_worker: Callable[..., WorkerProcess],
    producer: AIOKafkaProducer,
    worker_env: dict[str, str],
) -> None:
    needed = set().union(*(metric_names(q) for q in queries())) - FROM_PROMETHEUS
    assert len(needed) >= 15
    now = int(time.time())
    incident = Incident("Website.Subscribe", "all_failing", now - 1200, now + 600)
    records = list(
        generate(PROFILES[:3], [incident], now - 4 * 3600, now - 60, utc_offset=afternoon(now))
    )
    await send(producer, worker_env["DETECTOR_CALLS_TOPIC"], records)
    # The Alertmanager setting alone (no subscriptions file) starts the notifier and
    # with it the notification metrics.
    worker = start_worker(DETECTOR_NOTIFY_ALERTMANAGER_URL=f"http://127.0.0.1:{free_port()}")

    def all_exported() -> None:
        assert sorted(needed - exported(worker.url)) == []

    await eventually(all_exported, within=90, every=1)
