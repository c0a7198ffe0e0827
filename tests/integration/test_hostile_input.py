"""Hostile records against a worker on the real broker: each is dead-lettered or
counted as late with its reason, and the worker keeps running and counting."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections.abc import Callable

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import NewTopic
from aiokafka.structs import ConsumerRecord

from tests.integration.conftest import WorkerProcess, create_topics, eventually
from tests.integration.metrics_scrape import scrape, value

pytestmark = pytest.mark.integration


async def dead_letters(kafka: str, topic: str, n: int) -> list[ConsumerRecord[bytes, bytes]]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    got: list[ConsumerRecord[bytes, bytes]] = []
    try:
        async with asyncio.timeout(20):
            while len(got) < n:
                batch = await consumer.getmany(timeout_ms=500)
                got.extend(m for msgs in batch.values() for m in msgs)
    finally:
        await consumer.stop()
    return got


async def test_huge_counts_are_dead_lettered_and_the_worker_keeps_counting(
    start_worker: Callable[..., WorkerProcess],
    producer: AIOKafkaProducer,
    worker_env: dict[str, str],
    kafka: str,
) -> None:
    """Ten records of 10^18 calls once overflowed to a negative count and crash-looped
    the worker; now they are dead-lettered and the valid calls around them counted."""
    worker = start_worker()
    topic = worker_env["DETECTOR_CALLS_TOPIC"]
    now = time.time()
    huge = orjson.dumps({"operation": "Crm.Sync", "count": 10**18, "timestamp": now})
    for _ in range(10):
        await producer.send(topic, key=b"Crm.Sync", value=huge)
    ok = {"operation": "Crm.Sync", "count": 1_000_000, "errors": 3, "timestamp": now}
    await producer.send(topic, key=b"Crm.Sync", value=orjson.dumps(ok))
    await producer.flush()
    labels = {"operation": "Crm.Sync", "integration": ""}

    def counted(calls: int) -> Callable[[], None]:
        def check() -> None:
            m = scrape(worker.url)
            assert value(m, "detector_invalid_events_total", reason="count_too_large") == 10
            assert value(m, "detector_operation_calls_total", **labels) == calls

        return check

    await eventually(counted(1_000_000))
    got = await dead_letters(kafka, f"{topic}.invalid", 10)
    assert [m.value for m in got] == [huge] * 10
    assert {dict(m.headers)["x-detector-reason"] for m in got} == {b"count_too_large"}
    assert b"DETECTOR_MAX_COUNT" in dict(got[0].headers)["x-detector-error"]
    # Still alive and still counting after the hostile records.
    await producer.send(topic, key=b"Crm.Sync", value=orjson.dumps({**ok, "count": 5}))
    await producer.flush()
    await eventually(counted(1_000_005))
    assert worker.proc is not None
    assert worker.proc.poll() is None
    assert not [line for line in worker.log if "Traceback" in line]


def metrics_text(url: str) -> str:
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
        return str(response.read().decode())


def timed_scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """/metrics, which must answer within a second: the event loop is never blocked long."""
    started = time.perf_counter()
    samples = scrape(url)
    assert time.perf_counter() - started < 1.0
    return samples


async def test_calls_stamped_1970_are_late_and_never_stall_the_worker(
    start_worker: Callable[..., WorkerProcess],
    producer: AIOKafkaProducer,
    worker_env: dict[str, str],
) -> None:
    """One call stamped 1970 once made the engine judge every minute since: the event
    loop blocked for minutes. Now it is late (or, as a fresh worker's very first call,
    judged with a bounded catch-up) and the worker keeps answering."""
    worker = start_worker(DETECTOR_PARTITIONS="1")
    topic = worker_env["DETECTOR_CALLS_TOPIC"]

    async def send(operation: str, timestamp: float) -> None:
        event = {"operation": operation, "status": "ok", "timestamp": timestamp}
        await producer.send(topic, key=operation.encode(), value=orjson.dumps(event))
        await producer.flush()

    await send("Old.First", 1)  # The first call this worker reads: not late, but idle.

    def first_judged() -> None:
        m = timed_scrape(worker.url)
        # Not late (nothing newer was read), but no call for 56 years is idle: forgotten.
        assert value(m, "detector_evicted_operations_total") == 1
        owned = ("detector_operation_calls_total", "detector_window_calls")
        assert not [k for k in m if k[0] in owned and ("operation", "Old.First") in k[1]]

    await eventually(first_judged)
    now = time.time()
    for _ in range(5):
        await send("Web.Form", now)
    form = {"operation": "Web.Form", "integration": ""}

    def form_counted() -> None:
        assert value(timed_scrape(worker.url), "detector_operation_calls_total", **form) == 5

    await eventually(form_counted)
    await send("Old.Second", 1)  # New operation, but the partition has read 'now' already.
    await send("Web.Form", 1)  # Known operation, far behind its newest window.
    await send("Web.Form", now + 1)

    owned = ("detector_operation_calls_total", "detector_window_calls")

    def late_counted() -> None:
        m = timed_scrape(worker.url)
        # Web.Form's is late; Old.Second's is late or, if taken, forgotten as idle.
        assert value(m, "detector_late_events_total") >= 1
        gone = value(m, "detector_late_events_total") + value(
            m, "detector_evicted_operations_total"
        )
        assert gone == 3
        assert value(m, "detector_window_calls", **form) == 6
        assert not [k for k in m if k[0] in owned and ("operation", "Old.Second") in k[1]]

    await eventually(late_counted)
    for _ in range(8):  # Stays responsive across evaluator runs.
        timed_scrape(worker.url)
        await asyncio.sleep(0.5)
    assert worker.proc is not None
    assert worker.proc.poll() is None


async def test_names_with_control_or_bidi_characters_never_reach_metrics(
    start_worker: Callable[..., WorkerProcess],
    producer: AIOKafkaProducer,
    worker_env: dict[str, str],
    kafka: str,
) -> None:
    worker = start_worker()
    topic = worker_env["DETECTOR_CALLS_TOPIC"]
    now = time.time()
    bad = ["Web\x00Form", "Web\x1b[31mForm", "Invoice\u202egnp.exe", "x" * 201]
    for name in bad:
        event = {"operation": name, "status": "ok", "timestamp": now}
        await producer.send(topic, key=name.encode(), value=orjson.dumps(event))
    ok = {"operation": "Web.Form", "integration": "web\u2066x", "status": "ok", "timestamp": now}
    await producer.send(topic, key=b"Web.Form", value=orjson.dumps(ok))
    await producer.send(topic, key=b"Web.Form", value=orjson.dumps({**ok, "integration": "web"}))
    await producer.flush()

    def counted() -> None:
        m = scrape(worker.url)
        assert value(m, "detector_invalid_events_total", reason="invalid_name") == 5
        assert value(m, "detector_operation_calls_total", operation="Web.Form", integration="web")

    await eventually(counted)
    got = await dead_letters(kafka, f"{topic}.invalid", 5)
    assert {dict(m.headers)["x-detector-reason"] for m in got} == {b"invalid_name"}
    text = metrics_text(worker.url)
    for char in ("\x00", "\x1b", "\u202e", "\u2066", "x" * 201):
        assert char not in text


async def test_corrupt_changelog_records_are_quarantined_not_a_crash_loop(
    start_worker: Callable[..., WorkerProcess],
    producer: AIOKafkaProducer,
    worker_env: dict[str, str],
) -> None:
    """A window restored with a negative count once crashed the worker after every
    restart, and a changelog key that is not JSON kept Faust's recovery waiting forever.
    Corrupt records are now skipped, logged once and counted; the operation starts
    afresh, the others keep their state, and the worker keeps counting."""
    topic = worker_env["DETECTOR_CALLS_TOPIC"]
    app_id = worker_env["DETECTOR_APP_ID"]
    first = start_worker(DETECTOR_PARTITIONS="1")
    now = time.time()
    ok = orjson.dumps({"operation": "Web.Form", "status": "ok", "timestamp": now})
    other = orjson.dumps({"operation": "Crm.Sync", "count": 2, "timestamp": now})
    await producer.send(topic, key=b"Web.Form", value=ok)
    await producer.send(topic, key=b"Crm.Sync", value=other)
    await producer.flush()
    labels = {"operation": "Web.Form", "integration": ""}
    kept = {"operation": "Crm.Sync", "integration": ""}
    await eventually(lambda: _window_calls(first, labels, 1))
    await eventually(lambda: _window_calls(first, kept, 2))
    await asyncio.sleep(3)  # Past the commit interval.
    first.stop()
    bad_windows = {"p": 0, "i": None, "t": now, "w": {str(int(now // 60 * 60)): [-5, 0, 0, {}]}}
    # Each topic's newest record is a corrupt one: recovery must still reach its end.
    corrupt = (
        ("window-counts", b'"Web.Form"', orjson.dumps(bad_windows)),
        ("window-counts", b"{not json", b"{}"),
        ("window-counts", b"\xff\xfe", b"{}"),  # Not UTF-8.
        ("operation-models", b'"Web.Form"', b'{"version": 2, "status": "exploded"}'),
        ("operation-summaries", b'"Web.Form"', b'{"operation": 7}'),
        ("operation-summaries", b"123", b"{}"),  # JSON, but not a string.
        ("inflight-events", b'"Web.Form"', b"\xff not json"),
    )
    for table, key, record in corrupt:
        await producer.send(f"{app_id}-{table}-changelog", key=key, value=record, partition=0)
    await producer.flush()
    second = start_worker(DETECTOR_PARTITIONS="1")
    await producer.send(topic, key=b"Web.Form", value=ok)
    await producer.flush()
    expected = {"window-counts": 3, "operation-models": 1, "operation-summaries": 2}
    expected["inflight-events"] = 1

    def quarantined() -> None:
        m = scrape(second.url)
        for table, n in expected.items():
            assert value(m, "detector_quarantined_records_total", table=table) == n, table
        assert value(m, "detector_window_calls", **labels) == 1  # Afresh: the new call.
        assert value(m, "detector_window_calls", **kept) == 2  # Restored as it was.

    await eventually(quarantined)
    for _ in range(3):  # Evaluations keep running; each bad record is logged once.
        await asyncio.sleep(2)
        assert second.proc is not None
        assert second.proc.poll() is None
    log = "".join(second.log)
    assert log.count("quarantined the window-counts record of 'Web.Form'") == 1
    assert log.count("quarantined a record of the window-counts changelog with key b") == 2
    assert log.count("quarantined a record of the operation-summaries changelog") == 1
    # Packed tables take any bytes in; a value that does not unpack is quarantined
    # where it is read.
    assert log.count("quarantined the inflight-events record of 'Web.Form'") == 1
    assert "Traceback" not in log


def _window_calls(worker: WorkerProcess, labels: dict[str, str], n: int) -> None:
    assert value(scrape(worker.url), "detector_window_calls", **labels) == n


async def test_operations_past_the_caps_are_dead_lettered(
    start_worker: Callable[..., WorkerProcess],
    producer: AIOKafkaProducer,
    worker_env: dict[str, str],
    kafka: str,
) -> None:
    """A producer that puts an id into the operation name must not grow the worker."""
    worker = start_worker(DETECTOR_MAX_OPERATIONS="3", DETECTOR_MAX_OPERATIONS_PER_INTEGRATION="2")
    topic = worker_env["DETECTOR_CALLS_TOPIC"]
    now = time.time()
    names = [(f"Order.{i}", "shop") for i in range(4)] + [("Crm.Sync", None), ("Pos.Sale", "pos")]
    for name, integration in names:
        event = {"operation": name, "integration": integration, "status": "ok", "timestamp": now}
        await producer.send(topic, key=name.encode(), value=orjson.dumps(event))
        await producer.flush()
        await asyncio.sleep(0.3)  # One batch each: admitted in this order.

    def capped() -> None:
        m = scrape(worker.url)
        assert value(m, "detector_invalid_events_total", reason="too_many_operations") == 3
        tracked = {
            dict(labels)["operation"]
            for (name, labels) in m
            if name == "detector_operation_calls_total"
        }
        assert tracked == {"Order.0", "Order.1", "Crm.Sync"}

    await eventually(capped)
    got = await dead_letters(kafka, f"{topic}.invalid", 3)
    assert {dict(m.headers)["x-detector-reason"] for m in got} == {b"too_many_operations"}
    assert {m.key for m in got} == {b"Order.2", b"Order.3", b"Pos.Sale"}


async def test_a_batch_of_ten_thousand_new_operations_is_counted(
    start_worker: Callable[..., WorkerProcess],
    producer: AIOKafkaProducer,
    worker_env: dict[str, str],
    kafka: str,
) -> None:
    """Their partial counts once made one message over the broker's 1 MB limit: refused
    for ever, the batch read again and again, and ingest stopped."""
    n = 12_000
    topic = worker_env["DETECTOR_CALLS_TOPIC"]
    # One partition, all sent before the worker starts: one batch, one partials message.
    await create_topics(kafka, NewTopic(topic, 1, 1))
    now = time.time()
    for i in range(n):
        name = f"Order.{i:05d}.{'x' * 80}"
        event = {"operation": name, "integration": "shop", "status": "ok", "timestamp": now}
        await producer.send(topic, key=name.encode(), value=orjson.dumps(event))
    await producer.flush()
    worker = start_worker(
        DETECTOR_PARTITIONS="1",
        DETECTOR_MAX_OPERATIONS=str(2 * n),
        DETECTOR_MAX_OPERATIONS_PER_INTEGRATION=str(2 * n),
        DETECTOR_METRICS_MAX_OPERATIONS=str(2 * n),
    )

    def counted() -> None:
        try:
            m = scrape(worker.url)
        except OSError as exc:  # A scrape may time out while 12,000 new operations are judged.
            raise AssertionError(f"/metrics did not answer: {exc!r}") from exc
        calls = [v for (name, _), v in m.items() if name == "detector_operation_calls_total"]
        assert (len(calls), sum(calls)) == (n, n)

    await eventually(counted, within=90)
