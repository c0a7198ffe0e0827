"""Ingest throughput, side by side in one run: a bare aiokafka ``getmany`` consumer, a
no-op Faust agent, and ``detector worker`` (1, 2 and 3 workers in one consumer group) on
the same topic of single calls; then the worker on the pre-aggregated form (``count=N``
per message, N = 10 and 100), whose calls/s grow with N. Run by hand against a local
broker (not a timed test):

    deploy/kafka/broker.sh start
    .venv/bin/python bench/throughput.py            # 600k events, 6 partitions, all of it

Each topic is filled once, then read from the start by each consumer. Worker rates are
measured from the first to the last offset the workers' ingest group commits (polled on
the broker, not on /metrics, whose rendering every 0.2 s cost a worker a fifth of its
time), so process start and group joins are not counted; the workers' CPU time per
event is printed too, a figure less disturbed by other load on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from agents.ingest import group_id

ROOT = Path(__file__).resolve().parents[1]
OPERATIONS = [f"Bench.Operation{i}" for i in range(50)]


async def fill(broker: str, topic: str, events: int, partitions: int, per_message: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=broker)
    await admin.start()
    await admin.create_topics([NewTopic(topic, partitions, 1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=broker, linger_ms=20, max_batch_size=1 << 20)
    await producer.start()
    rng = np.random.default_rng(1)
    now = time.time()
    ops = rng.integers(0, len(OPERATIONS), events)
    failed = rng.random(events) < 0.05
    started = time.perf_counter()
    pending = []
    for i in range(events):
        op = OPERATIONS[ops[i]]
        record: dict[str, object] = {"operation": op, "timestamp": now}
        if per_message > 1:
            record.update(count=per_message, errors=int(failed[i]))
        else:
            record["status"] = "error" if failed[i] else "ok"
        pending.append(await producer.send(topic, orjson.dumps(record), key=op.encode()))
        if len(pending) >= 20_000:
            await asyncio.gather(*pending)
            pending.clear()
            if sys.stdout.isatty():
                print(f"\r  produced {i + 1:,}/{events:,}", end="", flush=True)
    await asyncio.gather(*pending)
    await producer.stop()
    print(f"\r  produced {events:,} in {time.perf_counter() - started:.1f} s")


async def raw_rate(broker: str, topic: str, events: int) -> float:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=broker,
        group_id=None,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 << 20,
        fetch_max_bytes=32 << 20,
    )
    await consumer.start()
    seen, started = 0, 0.0
    while seen < events:
        batch = await consumer.getmany(timeout_ms=1000, max_records=50_000)
        if batch and not started:
            started = time.perf_counter()
        seen += sum(len(msgs) for msgs in batch.values())
    elapsed = time.perf_counter() - started
    await consumer.stop()
    return events / elapsed


def noop_agent(broker: str, topic: str, events: int) -> None:
    """Child process: a Faust app whose one agent does nothing with each message."""
    import faust

    app = faust.App(
        f"bench-noop-{uuid.uuid4().hex[:8]}",
        broker=f"kafka://{broker}",
        store="memory://",
        consumer_auto_offset_reset="earliest",
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=False,
        stream_wait_empty=False,
    )
    source = app.topic(topic)
    seen = 0
    started = 0.0

    @app.agent(source)
    async def noop(stream: object) -> None:
        nonlocal seen, started
        async for _ in stream:  # type: ignore[attr-defined]
            if not seen:
                started = time.perf_counter()
            seen += 1
            if seen >= events:
                print(f"RATE {(seen - 1) / (time.perf_counter() - started)}", flush=True)
                os._exit(0)

    app.main()


def faust_rate(broker: str, topic: str, events: int) -> float:
    done = subprocess.run(
        [sys.executable, __file__, "--noop-child", "worker", "-l", "warn"],
        env={
            **os.environ,
            "BENCH_BROKER": broker,
            "BENCH_TOPIC": topic,
            "BENCH_EVENTS": str(events),
        },
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    # Faust's worker may redirect the child's stdout into its log.
    for line in (done.stdout + done.stderr).splitlines():
        if "RATE " in line:
            return float(line.split("RATE ")[1].split()[0])
    raise RuntimeError(f"the no-op agent did not finish:\n{done.stderr[-2000:]}")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _committed(admin: AIOKafkaAdminClient, group: str, topic: str) -> int:
    """Events the group has committed in ``topic`` (filled from offset 0)."""
    offsets = await admin.list_consumer_group_offsets(group)
    return sum(max(0, meta.offset) for tp, meta in offsets.items() if tp.topic == topic)


async def _watch(
    broker: str, group: str, topic: str, events: int, procs: list[subprocess.Popen[bytes]]
) -> tuple[float, float]:
    """Events/s from the first commit seen to the last, and CPU microseconds per event,
    polling the group's committed offsets on the broker (scraping /metrics as often cost
    the worker a fifth of its time)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=broker)
    await admin.start()
    try:
        first_at, first_count, first_cpu = None, 0, 0.0
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            count = await _committed(admin, group, topic)
            if count and first_at is None:
                first_at, first_count = time.perf_counter(), count
                first_cpu = sum(cpu_seconds(p.pid) for p in procs)
            if count >= events and first_at is not None:
                rate = (count - first_count) / (time.perf_counter() - first_at)
                cpu = sum(cpu_seconds(p.pid) for p in procs) - first_cpu
                return rate, cpu / (count - first_count) * 1e6
    finally:
        await admin.close()
    raise RuntimeError("the workers did not read every event in 30 minutes")


def worker_rate(
    broker: str, topic: str, events: int, port: int, workers: int, partitions: int
) -> tuple[float, float]:
    """Events/s of ``workers`` workers in one group, and their CPU microseconds per event."""
    app_id = f"bench-{uuid.uuid4().hex[:8]}"
    procs = []
    for i in range(workers):
        env = {
            **os.environ,
            "DETECTOR_BROKER": broker,
            "DETECTOR_APP_ID": app_id,
            "DETECTOR_CALLS_TOPIC": topic,
            "DETECTOR_PARTITIONS": str(partitions),
            "DETECTOR_WEB_PORT": str(port + i),
            "DETECTOR_DATA_DIR": f"/tmp/detector-bench-{app_id}-{i}",
            "DETECTOR_LOG_LEVEL": "warn",
        }
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "agents.cli", "worker", "--quiet"],
                env=env,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    try:
        return asyncio.run(_watch(broker, group_id(app_id), topic, events, procs))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:  # A worker's shutdown can hang; not measured.
                proc.kill()
                proc.wait()


def main() -> None:
    if "--noop-child" in sys.argv:
        sys.argv.remove("--noop-child")
        env = os.environ
        noop_agent(env["BENCH_BROKER"], env["BENCH_TOPIC"], int(env["BENCH_EVENTS"]))
        return
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--broker", default="127.0.0.1:9092")
    parser.add_argument("--events", type=int, default=600_000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--port", type=int, default=6099)
    parser.add_argument("--workers", default="1,2,3", help="worker counts to measure")
    parser.add_argument("--skip-faust", action="store_true", help="skip the no-op Faust agent")
    parser.add_argument(
        "--calls-per-message",
        default="10,100",
        help="pre-aggregated forms to measure after the single calls (count=N per message); "
        "'' for none",
    )
    args = parser.parse_args()
    topic = f"bench-calls-{uuid.uuid4().hex[:8]}"
    print(f"topic {topic}: {args.events:,} single-call events, {args.partitions} partitions")
    asyncio.run(fill(args.broker, topic, args.events, args.partitions, 1))
    raw = asyncio.run(raw_rate(args.broker, topic, args.events))
    print(f"raw aiokafka getmany   : {raw:>10,.0f} events/s")
    if not args.skip_faust:
        # Over the first 100,000 events: at Faust's pace the whole topic takes minutes.
        noop = faust_rate(args.broker, topic, min(args.events, 100_000))
        print(f"no-op Faust agent      : {noop:>10,.0f} events/s  ({noop / raw:.2f}x raw)")
    for workers in [int(w) for w in args.workers.split(",")]:
        rate, cpu = worker_rate(
            args.broker, topic, args.events, args.port, workers, args.partitions
        )
        print(
            f"detector worker x{workers}     : {rate:>10,.0f} events/s  ({rate / raw:.2f}x raw)"
            f"  {cpu:.1f} us CPU/event"
        )
    for per_message in [int(n) for n in args.calls_per_message.split(",") if n]:
        messages = args.events // 2
        topic = f"bench-calls-{uuid.uuid4().hex[:8]}"
        print(f"topic {topic}: {messages:,} messages of {per_message} calls")
        asyncio.run(fill(args.broker, topic, messages, args.partitions, per_message))
        rate, cpu = worker_rate(args.broker, topic, messages, args.port, 1, args.partitions)
        print(
            f"detector worker x1, {per_message:>3} calls/message: {rate:>10,.0f} messages/s"
            f" = {rate * per_message:>12,.0f} calls/s  {cpu:.1f} us CPU/message"
        )


if __name__ == "__main__":
    main()
