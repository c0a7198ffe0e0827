"""The notifier worker end to end: status changes on the real broker in, mails to an
SMTP server in the test process out; grouping, reverts, SMTP outages, permanent
rejections, and a worker killed and restarted."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from detector.status import Status, StatusChange
from tests.integration.conftest import ROOT, WorkerProcess, eventually, free_port
from tests.integration.smtp_server import Inbox, start_smtp
from tests.unit.notify_helpers import T0, change

pytestmark = pytest.mark.integration
NOTIFY_WORKER = ("tests.integration.notify_worker", "worker")


@pytest.fixture
def notify_env(kafka: str, unique: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DETECTOR_")}
    env.update(
        DETECTOR_BROKER=kafka,
        DETECTOR_APP_ID=f"notify-{unique}",
        DETECTOR_STATUS_TOPIC=f"status-{unique}",
        DETECTOR_DATA_DIR=str(tmp_path / "data"),
        DETECTOR_NOTIFY_SUBSCRIPTIONS=str(tmp_path / "subscriptions.yaml"),
        DETECTOR_NOTIFY_SMTP_PORT=str(free_port()),
        DETECTOR_NOTIFY_SMTP_TIMEOUT="3",
        DETECTOR_NOTIFY_RETRY_INITIAL="0.5",
        DETECTOR_NOTIFY_RETRY_MAX="2",
        DETECTOR_NOTIFY_FLUSH_INTERVAL="0.5",
        DETECTOR_LINK_SECRET="test-secret",
        DETECTOR_PUBLIC_URL="http://dash.example",
        PYTHONPATH=str(ROOT),
    )
    return env


def write_subscriptions(env: dict[str, str], emails: list[str], group_wait: int = 2) -> None:
    entries = "".join(f"  - email: {e}\n    operations: ['*']\n" for e in emails)
    _write(env, f"group_wait: {group_wait}\nsubscribers:\n{entries}")


def _write(env: dict[str, str], text: str) -> None:
    Path(env["DETECTOR_NOTIFY_SUBSCRIPTIONS"]).write_text(text, encoding="utf-8")


@pytest.fixture
def workers(notify_env: dict[str, str]) -> Iterator[Callable[[], WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start() -> WorkerProcess:
        started.append(WorkerProcess(notify_env, ROOT, NOTIFY_WORKER).start())
        return started[-1]

    yield start
    for worker in started:
        worker.stop()
        print("".join(worker.log[-60:]))


@pytest.fixture
def smtp(notify_env: dict[str, str]) -> Iterator[Callable[..., Inbox]]:
    controllers: list[Any] = []

    def start(inbox: Inbox | None = None) -> Inbox:
        box = inbox or Inbox()
        controllers.append(start_smtp(box, int(notify_env["DETECTOR_NOTIFY_SMTP_PORT"])))
        return box

    yield start
    for controller in controllers:
        controller.stop()


async def publish(producer: AIOKafkaProducer, topic: str, *changes: StatusChange) -> None:
    for c in changes:
        await producer.send(topic, c.model_dump_json().encode(), key=c.operation.encode())
    await producer.flush()


def problem(operation: str, at: float = T0) -> StatusChange:
    return change(
        operation, observed={"calls": 40, "errors": 40, "error_codes": {"503": 40}}, at=at
    )


async def test_grouped_mail_with_content_and_no_mail_for_a_revert(
    notify_env: dict[str, str],
    workers: Callable[[], WorkerProcess],
    smtp: Callable[..., Inbox],
    producer: AIOKafkaProducer,
) -> None:
    write_subscriptions(notify_env, ["ops@example.com"])
    inbox = smtp()
    workers()
    topic = notify_env["DETECTOR_STATUS_TOPIC"]
    reverted = change("D.d", status=Status.NO_CALLS, at=T0)
    back = change("D.d", previous=Status.NO_CALLS, status=Status.OK, at=T0 + 60)
    await publish(producer, topic, problem("A.a"), problem("B.b"), reverted, problem("C.c"), back)
    await eventually(lambda: _count(inbox, 1), within=60)
    await asyncio.sleep(4)
    (mail,) = inbox.messages
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    for op in ("A.a", "B.b", "C.c"):
        assert op in text
        assert f"http://dash.example/operations/{op}/log?from=" in text
        assert op in html
    assert "D.d" not in text
    assert "destination" in text
    assert "3 integration statuses changed" in mail["Subject"]


def _count(inbox: Inbox, n: int) -> None:
    assert len(inbox.messages) == n


async def test_smtp_down_then_up_delivers_each_mail_once(
    notify_env: dict[str, str],
    workers: Callable[[], WorkerProcess],
    smtp: Callable[..., Inbox],
    producer: AIOKafkaProducer,
) -> None:
    emails = [f"team{i}@example.com" for i in range(3)]
    write_subscriptions(notify_env, emails, group_wait=1)
    worker = workers()
    await publish(producer, notify_env["DETECTOR_STATUS_TOPIC"], problem("A.a"))
    await eventually(lambda: _logged(worker, "retrying in"), within=60)
    inbox = smtp()
    await eventually(lambda: _count(inbox, 3), within=60)
    await asyncio.sleep(5)
    assert sorted(m["To"] for m in inbox.messages) == emails


def _logged(worker: WorkerProcess, words: str) -> None:
    assert any(words in line for line in worker.log)


async def test_a_permanently_rejected_recipient_does_not_stop_the_others(
    notify_env: dict[str, str],
    workers: Callable[[], WorkerProcess],
    smtp: Callable[..., Inbox],
    producer: AIOKafkaProducer,
) -> None:
    write_subscriptions(notify_env, ["gone@example.com", "ops@example.com"], group_wait=1)
    box = Inbox()
    box.refuse["gone@example.com"] = "550 5.1.1 no such mailbox"
    smtp(box)
    worker = workers()
    topic = notify_env["DETECTOR_STATUS_TOPIC"]
    await publish(producer, topic, problem("A.a"))
    await eventually(lambda: _count(box, 1), within=60)
    await publish(producer, topic, problem("B.b", at=T0 + 600))
    await eventually(lambda: _count(box, 2), within=60)
    assert [m["To"] for m in box.messages] == ["ops@example.com"] * 2
    rejected = [line for line in worker.log if "given up" in line]
    assert len(rejected) == 2
    assert "550" in rejected[0]


async def test_killed_mid_batch_and_restarted_loses_nothing_and_repeats_only_the_open_mail(
    notify_env: dict[str, str],
    workers: Callable[[], WorkerProcess],
    smtp: Callable[..., Inbox],
    producer: AIOKafkaProducer,
) -> None:
    """SMTP cannot be exactly-once: a mail the server accepted while the worker died,
    before the worker read the 250, is sent again after the restart (merged with what
    arrived meanwhile, so not always under the same Message-ID). This server takes one
    mail at a time, so at most one can be in that state; nothing else may repeat."""
    emails = [f"team{i:02}@example.com" for i in range(20)]
    write_subscriptions(notify_env, emails, group_wait=1)
    inbox = smtp(Inbox(delay=0.05))
    worker = workers()
    topic = notify_env["DETECTOR_STATUS_TOPIC"]
    await publish(producer, topic, problem("A.a"))
    await eventually(lambda: _at_least(inbox, 3), within=60)
    worker.kill()
    assert len(inbox.messages) < len(emails), "the kill came too late to be mid-batch"
    await publish(producer, topic, problem("B.b", at=T0 + 600))
    workers()
    expected = sorted((e, op) for e in emails for op in ("A.a", "B.b"))
    await eventually(lambda: _told_once_each(inbox, expected), within=90)
    await asyncio.sleep(5)
    _told_once_each(inbox, expected)


def _told_once_each(inbox: Inbox, expected: list[tuple[str, str]]) -> None:
    """Every (recipient, operation) mailed (A.a and B.b may share a mail, when both were
    waiting at the restart), and only the one mail open at the kill may come twice."""
    told: Counter[tuple[str, str]] = Counter()
    for m in inbox.messages:
        text = m.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        told.update((m["To"], op) for op in ("A.a", "B.b") if f"Operation: {op}" in text)
    # Named in short: a failure's report must leave room for the workers' logs after it.
    assert not set(expected) - set(told), f"not told: {sorted(set(expected) - set(told))}"
    assert not set(told) - set(expected), f"told unexpectedly: {sorted(set(told) - set(expected))}"
    repeated = [pair for pair, n in told.items() if n > 1]
    assert len(repeated) <= 1
    assert max(told.values()) <= 2


def _at_least(inbox: Inbox, n: int) -> None:
    assert len(inbox.messages) >= n


async def test_subscriptions_are_reloaded_without_restart(
    notify_env: dict[str, str],
    workers: Callable[[], WorkerProcess],
    smtp: Callable[..., Inbox],
    producer: AIOKafkaProducer,
) -> None:
    notify_env["DETECTOR_NOTIFY_RELOAD_INTERVAL"] = "0.5"
    write_subscriptions(notify_env, ["before@example.com"], group_wait=1)
    inbox = smtp()
    worker = workers()
    _write(notify_env, "subscribers: [{email: broken}]\n")
    await eventually(lambda: _logged(worker, "keeping the last good ones"), within=30)
    write_subscriptions(notify_env, ["after@example.com"], group_wait=1)
    await eventually(lambda: _logged(worker, "subscriptions reloaded"), within=30)
    await publish(producer, notify_env["DETECTOR_STATUS_TOPIC"], problem("A.a"))
    await eventually(lambda: _count(inbox, 1), within=60)
    assert inbox.messages[0]["To"] == "after@example.com"


def test_a_broken_subscriptions_file_stops_the_worker_at_start(
    notify_env: dict[str, str],
) -> None:
    path = Path(notify_env["DETECTOR_NOTIFY_SUBSCRIPTIONS"])
    path.write_text("subscribers:\n  - {email: a@example.com, statuses: [red]}\n", "utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "tests.integration.notify_worker", "worker"],
        env=notify_env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert f"{path}: subscribers[0].statuses.0" in done.stderr
