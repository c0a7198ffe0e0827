"""The producer library on the real broker: calls reported from several threads (and
from a process that just exits) are counted exactly by the worker; with Kafka away,
report() stays instant, memory stays bounded and every drop is counted."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections.abc import Callable

import pytest
from prometheus_client import CollectorRegistry

from agents.producer import Reporter, ReporterMetrics
from tests.integration.conftest import ROOT, WorkerProcess, eventually, free_port
from tests.integration.metrics_scrape import scrape, value

pytestmark = pytest.mark.integration

EXITING_SERVICE = """
import sys
from prometheus_client import CollectorRegistry

from agents.producer import Reporter, ReporterMetrics
reporter = Reporter(sys.argv[1], sys.argv[2], integration="batch")
for i in range(300):
    reporter.report("Batch.Export", ok=i % 3 != 0, error_code="E42", source_record=i)
"""  # No close(): the atexit hook must send what is left.


async def test_reported_calls_are_counted_exactly_by_the_worker(
    start_worker: Callable[..., WorkerProcess], worker_env: dict[str, str], kafka: str
) -> None:
    worker = start_worker()
    topic = worker_env["DETECTOR_CALLS_TOPIC"]
    threads, per_thread = 4, 600
    with Reporter(kafka, topic, integration="website") as reporter:

        def serve(n: int) -> None:
            for i in range(per_thread):
                failed = i % 10 == n
                reporter.report(
                    "Website.Subscribe" if i % 2 else "Website.Unsubscribe",
                    ok=not failed,
                    error_code="invalid_email" if failed else None,
                    payload={"email": f"user{i}@"} if failed else None,
                    source_record=f"form-{n}-{i}",
                )

        workers = [threading.Thread(target=serve, args=(n,)) for n in range(threads)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        assert reporter.flush(timeout=30)
        counters = reporter.counters()
    assert counters.reported == counters.sent == threads * per_thread
    assert sum(counters.dropped.values()) == 0
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    service = await asyncio.create_subprocess_exec(
        sys.executable, "-c", EXITING_SERVICE, kafka, topic, env=env
    )
    assert await asyncio.wait_for(service.wait(), 60) == 0

    def counted() -> None:
        m = scrape(worker.url)
        total = sum(
            value(m, "detector_operation_calls_total", operation=op, integration="website")
            for op in ("Website.Subscribe", "Website.Unsubscribe")
        )
        errors = sum(
            value(m, "detector_operation_errors_total", operation=op, integration="website")
            for op in ("Website.Subscribe", "Website.Unsubscribe")
        )
        assert (total, errors) == (threads * per_thread, threads * per_thread // 10)
        batch = {"operation": "Batch.Export", "integration": "batch"}
        assert value(m, "detector_operation_calls_total", **batch) == 300
        assert value(m, "detector_operation_errors_total", **batch) == 100
        # Successes travel pre-aggregated: far fewer messages than calls.
        assert value(m, "detector_events_consumed_total") < threads * per_thread / 4 + 500

    await eventually(counted, within=120)


def test_with_kafka_unreachable_report_returns_at_once_and_memory_is_bounded() -> None:
    closed_port = free_port()  # Nothing listens there.
    max_bytes, max_groups = 256 * 1024, 50
    reporter = Reporter(
        f"127.0.0.1:{closed_port}", "calls", max_bytes=max_bytes, max_groups=max_groups
    )
    slowest = 0.0
    started = time.perf_counter()
    n = 60_000
    for i in range(n):
        t = time.perf_counter()
        reporter.report(f"Op.{i % 7}", ok=i % 2 == 0, at=1_790_000_000 + i % 100, payload="x" * 500)
        slowest = max(slowest, time.perf_counter() - t)
    elapsed = time.perf_counter() - started
    calls, pending_bytes = reporter.pending()
    counters = reporter.counters()
    assert pending_bytes <= max_bytes
    assert counters.dropped["buffer_full"] > n / 3
    assert counters.reported == n == calls + sum(counters.dropped.values())
    assert counters.sent == 0
    # Instant: the mean is microseconds; the slowest is a scheduler hiccup, not Kafka.
    assert elapsed / n < 0.001, elapsed
    assert slowest < 0.5, slowest
    registry = CollectorRegistry()
    registry.register(ReporterMetrics(reporter))
    assert registry.get_sample_value("detector_reporter_calls_total", {"result": "reported"}) == n
    full = registry.get_sample_value(
        "detector_reporter_dropped_calls_total", {"reason": "buffer_full"}
    )
    assert full == counters.dropped["buffer_full"]
    assert registry.get_sample_value("detector_reporter_buffered_bytes") == pending_bytes
    t = time.perf_counter()
    assert reporter.close(timeout=1.0) is False
    assert time.perf_counter() - t < 5
    after = reporter.counters()
    assert after.dropped["closed"] == calls
    assert reporter.pending() == (0, 0)
    reporter.report("Op.late", ok=True)
    assert reporter.counters().dropped["closed"] == calls + 1


def test_a_forked_child_gets_its_own_sending_thread() -> None:
    """gunicorn --preload and uWSGI fork after import: the child must still send."""
    reporter = Reporter(f"127.0.0.1:{free_port()}", "calls")
    reporter.report("Op.parent", ok=False)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # The child: a fresh buffer (the parent's is the parent's) and thread.
        try:
            reporter.report("Op.child", ok=False)
            fine = (
                reporter._thread.is_alive()
                and reporter.counters().reported == 1
                and reporter.pending()[0] == 1
            )
            os.write(write, b"1" if fine else b"0")
        finally:
            os._exit(0)
    os.close(write)
    assert os.read(read, 1) == b"1"
    os.waitpid(pid, 0)
    assert reporter.counters().reported == 1
    assert reporter.close(timeout=0.5) is False  # Kafka is away: the parent's call is lost.
    assert reporter.counters().dropped["closed"] == 1
