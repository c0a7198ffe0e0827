"""Ingest throughput: the worker's events/s beside raw aiokafka ``getmany`` on the same
topic in the same run. Run by hand against a local broker (not a timed test):

    deploy/kafka/broker.sh start
    .venv/bin/python bench/throughput.py --events 500000

It fills a fresh topic once, reads it with a bare aiokafka consumer, then starts
``detector worker`` on it and measures until /metrics says every event was consumed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from prometheus_client.parser import text_string_to_metric_families

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
        value = orjson.dumps(record)
        pending.append(await producer.send(topic, value, key=op.encode()))
        if len(pending) >= 20_000:
            await asyncio.gather(*pending)
            pending.clear()
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


def consumed(url: str) -> float:
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
        text = response.read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "detector_events_consumed_total":
                return sample.value
    return 0.0


def worker_rate(broker: str, topic: str, events: int, port: int) -> float:
    env = {
        **os.environ,
        "DETECTOR_BROKER": broker,
        "DETECTOR_APP_ID": f"bench-{uuid.uuid4().hex[:8]}",
        "DETECTOR_CALLS_TOPIC": topic,
        "DETECTOR_WEB_PORT": str(port),
        "DETECTOR_DATA_DIR": f"/tmp/detector-bench-{port}",
        "DETECTOR_LOG_LEVEL": "warn",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "agents.cli", "worker", "--quiet"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        first_at, first_count = None, 0.0
        while True:
            time.sleep(0.05)
            try:
                count = consumed(f"http://127.0.0.1:{port}")
            except OSError:
                continue
            if count and first_at is None:
                first_at, first_count = time.perf_counter(), count
            if count >= events:
                assert first_at is not None
                return (count - first_count) / (time.perf_counter() - first_at)
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker", default="127.0.0.1:9092")
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--port", type=int, default=6099)
    parser.add_argument(
        "--calls-per-message",
        type=int,
        default=1,
        help="N > 1 sends the pre-aggregated form (count=N), as a busy producer should",
    )
    args = parser.parse_args()
    topic = f"bench-calls-{uuid.uuid4().hex[:8]}"
    print(f"topic {topic}: {args.events:,} events, {args.partitions} partitions")
    asyncio.run(fill(args.broker, topic, args.events, args.partitions, args.calls_per_message))
    raw = asyncio.run(raw_rate(args.broker, topic, args.events))
    print(f"raw aiokafka getmany : {raw:>10,.0f} events/s")
    worker = worker_rate(args.broker, topic, args.events, args.port)
    print(f"detector worker      : {worker:>10,.0f} events/s  ({worker / raw:.0%} of raw)")
    if args.calls_per_message > 1:
        calls = worker * args.calls_per_message
        print(f"                       {calls:>10,.0f} calls/s (pre-aggregated messages)")


if __name__ == "__main__":
    main()
