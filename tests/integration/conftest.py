"""Fixtures for tests against the real broker: the broker itself (started by the shared
script when none is listening, and stopped again by the session that started it),
unique names per test (their topics deleted after it), a producer, and the worker as a
real subprocess."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

ROOT = Path(__file__).resolve().parents[2]
BROKER = os.environ.get("DETECTOR_TEST_BROKER", "127.0.0.1:9092")


def _listening(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


@pytest.fixture(scope="session", autouse=True)
def kafka() -> Iterator[str]:
    host, port = BROKER.split(":")
    started = False
    if not _listening(host, int(port)):
        subprocess.run([str(ROOT / "deploy/kafka/broker.sh"), "start"], check=True)
        started = True
    yield BROKER
    if started:
        subprocess.run([str(ROOT / "deploy/kafka/broker.sh"), "stop"], check=True)


class OwnBroker:
    """A broker of one test's own on free ports, which it may stop and start again (the
    shared one is never stopped)."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "KAFKA_PORT": str(self.port),
            "KAFKA_CONTROLLER_PORT": str(free_port()),
            "KAFKA_DATA_DIR": str(data_dir),
            "KAFKA_HEAP": "384m",
        }

    def run(self, action: str) -> None:
        """``deploy/kafka/broker.sh start`` or ``stop`` for this broker."""
        script = str(ROOT / "deploy/kafka/broker.sh")
        subprocess.run([script, action], env=self.env, check=True, capture_output=True, timeout=120)


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[OwnBroker]:
    broker = OwnBroker(tmp_path / "kafka")
    broker.run("start")
    yield broker
    broker.run("stop")


async def _delete_topics_named(kafka: str, part: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if part in t]
        if names:
            await admin.delete_topics(names)
    finally:
        await admin.close()


async def create_topics(kafka: str, *topics: NewTopic) -> None:
    """Create ``topics`` (named with the test's ``unique`` part, so deleted after it)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        await admin.create_topics(list(topics))
    finally:
        await admin.close()


@pytest.fixture
def unique(kafka: str) -> Iterator[str]:
    """A name part for one test's topics and app id; its topics are deleted after the
    test, so a long-lived development broker does not gather thousands of partitions."""
    part = uuid.uuid4().hex[:10]
    yield part
    # In a thread of its own: the fixture may be torn down inside the test's event loop.
    failed: list[BaseException] = []

    def delete() -> None:
        try:
            asyncio.run(_delete_topics_named(kafka, part))
        except Exception as exc:  # A failed clean-up is not the test's failure.
            failed.append(exc)

    thread = threading.Thread(target=delete)
    thread.start()
    thread.join(60)
    if failed:
        print(f"could not delete the topics of {part}: {failed[0]!r}", file=sys.stderr)


@pytest.fixture
async def producer(kafka: str) -> AsyncIterator[AIOKafkaProducer]:
    prod = AIOKafkaProducer(bootstrap_servers=kafka, linger_ms=5)
    await prod.start()
    yield prod
    await prod.stop()


def afternoon(now: int) -> int:
    """The simulator's ``utc_offset`` that makes ``now`` 15:00 local: a test's recent
    traffic is a busy afternoon's whatever the hour it runs (at night the daytime
    shapes send a call every few minutes, too few to show an incident in 20 min)."""
    return (15 * 3600 - now) % 86400


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


WORKER_COMMAND = ("agents.cli", "worker", "--quiet")


class WorkerProcess:
    """A Faust worker in a subprocess (``detector worker`` unless another module is
    given), with its log collected for assertions."""

    def __init__(
        self, env: dict[str, str], cwd: Path, module: tuple[str, ...] = WORKER_COMMAND
    ) -> None:
        self.env = env
        self.cwd = cwd
        self.module = module
        self.port = int(env.get("DETECTOR_WEB_PORT", 0))
        self.url = f"http://127.0.0.1:{self.port}"
        self.log: list[str] = []
        self.proc: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 60.0) -> WorkerProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", *self.module],
            env=self.env,
            cwd=self.cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        ready = threading.Event()
        threading.Thread(target=self._pump, args=(self.proc, ready), daemon=True).start()
        if not ready.wait(timeout):
            self.stop()
            raise AssertionError("worker not ready in time:\n" + "".join(self.log[-40:]))
        return self

    def _pump(self, proc: subprocess.Popen[str], ready: threading.Event) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.log.append(line)
            if "Worker]: Ready" in line:
                ready.set()

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, no final commit."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def worker_env(kafka: str, unique: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DETECTOR_")}
    env.update(
        DETECTOR_BROKER=kafka,
        DETECTOR_APP_ID=f"test-{unique}",
        DETECTOR_CALLS_TOPIC=f"calls-{unique}",
        DETECTOR_STATUS_TOPIC=f"status-{unique}",
        DETECTOR_LOG_TOPIC=f"calls-{unique}-log",
        DETECTOR_PAYLOAD_TOPIC=f"calls-{unique}-payloads",
        DETECTOR_WEB_PORT=str(free_port()),
        DETECTOR_DATA_DIR=str(tmp_path / "data"),
        DETECTOR_LOG_LEVEL="info",
        PYTHONPATH=str(ROOT),
    )
    return env


@pytest.fixture
def start_worker(
    worker_env: dict[str, str], tmp_path: Path
) -> Iterator[Callable[..., WorkerProcess]]:
    workers: list[WorkerProcess] = []

    def start(**overrides: str) -> WorkerProcess:
        env = {**worker_env, **overrides}
        worker = WorkerProcess(env, tmp_path).start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


async def eventually(
    check: Callable[[], object], within: float = 30.0, every: float = 0.25
) -> None:
    """Retry ``check`` (which asserts) until it passes or the time is up."""
    deadline = time.monotonic() + within
    while True:
        try:
            check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(every)
