"""The notifier's steps with an in-memory table and a fake channel: routing, sending,
retrying with backoff, giving up, metrics and signed links."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from prometheus_client import CollectorRegistry

from agents.links import LinkMaker
from agents.notify.metrics import NotifyMetrics
from agents.notify.pipeline import Notify, flush_all, forward, take
from agents.notify.reload import SubscriptionsFile
from agents.notify.retry import Backoff
from agents.notify.settings import NotifySettings
from detector import links
from detector.errors import NotificationError
from detector.notify.grouping import Notification
from detector.notify.render import Mail
from tests.unit.notify_helpers import T0, change


class Table:
    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def send_changelog(self, partition: int, key: str, value: Any, **kwargs: Any) -> None:
        """Nothing to do in memory; the real table writes its changelog topic here."""


class Topic:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, bytes]] = []

    async def send(self, key: bytes, value: bytes) -> None:
        self.sent.append((key, value))


class Channel:
    """Fails with the queued errors, in order, then succeeds."""

    channel = "email"

    def __init__(self, *errors: NotificationError) -> None:
        self.errors = list(errors)
        self.delivered: list[tuple[Notification, dict[str, str]]] = []

    async def send(self, notification: Notification, mail: Mail, links: dict[str, str]) -> None:
        if self.errors:
            raise self.errors.pop(0)
        self.delivered.append((notification, links))


SUBS = """
group_wait: 10
subscribers:
  - {email: ops@example.com, operations: ["Payments.*"]}
  - {email: gone@example.com, operations: ["*"]}
  - {email: web@example.com, operations: ["Website.*"]}
"""


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def notify(
    tmp_path: Path, registry: CollectorRegistry, channel: Channel, restored: bool = True
) -> Notify:
    path = tmp_path / "subs.yaml"
    path.write_text(SUBS, encoding="utf-8")
    return Notify(
        settings=NotifySettings(),
        subscriptions=SubscriptionsFile(path),
        metrics=NotifyMetrics(registry),
        backoff=Backoff(2.0, 60.0, give_up_after=3, random=lambda: 0.0),
        email=channel,
        webhook=channel,
        alertmanager=channel,
        topic=Topic(),
        table=Table(),
        flush=_nothing,
        links=LinkMaker("http://dash", b"k", links.LinkRule()),
        restored=lambda: restored,
    )


async def _nothing() -> None:
    """The in-memory table has no producer to wait for."""


async def test_forward_once_per_matching_subscriber(
    tmp_path: Path, registry: CollectorRegistry
) -> None:
    n = notify(tmp_path, registry, Channel())
    await forward(n, change("Payments.Charge").model_dump_json().encode())
    await forward(n, b"not json")
    assert sorted(k for k, _ in n.topic.sent) == [
        b"mailto:gone@example.com",
        b"mailto:ops@example.com",
    ]


async def test_sent_once_with_metrics_and_a_signed_link(
    tmp_path: Path, registry: CollectorRegistry
) -> None:
    channel = Channel()
    n = notify(tmp_path, registry, channel)
    take(n, "mailto:ops@example.com", 1, change().model_dump_json().encode(), T0)
    await flush_all(n, T0 + 9)
    assert channel.delivered == []
    await flush_all(n, T0 + 10)
    await flush_all(n, T0 + 11)
    ((note, sent_links),) = channel.delivered
    assert note.recipient == "mailto:ops@example.com"
    params = dict(parse_qsl(urlsplit(sent_links["Payments.Charge"]).query))
    assert links.verify(b"k", "Payments.Charge", params, T0 + 20).start < T0
    assert registry.get_sample_value("detector_notifications_sent_total", {"channel": "email"}) == 1
    count = "detector_notification_latency_seconds_count"
    assert registry.get_sample_value(count, {"channel": "email"}) == 1
    assert n.table.data["mailto:ops@example.com"]["p"] == 1


async def test_nothing_is_sent_while_the_table_is_being_restored(
    tmp_path: Path, registry: CollectorRegistry
) -> None:
    channel = Channel()
    n = notify(tmp_path, registry, channel, restored=False)
    take(n, "mailto:ops@example.com", 0, change().model_dump_json().encode(), T0)
    await flush_all(n, T0 + 60)
    assert channel.delivered == []
    n.restored = lambda: True
    await flush_all(n, T0 + 61)
    assert len(channel.delivered) == 1


async def test_temporary_failures_back_off_then_deliver(
    tmp_path: Path, registry: CollectorRegistry
) -> None:
    down = NotificationError("refused", "connection refused", retryable=True)
    channel = Channel(down, down)
    n = notify(tmp_path, registry, channel)
    take(n, "mailto:ops@example.com", 0, change().model_dump_json().encode(), T0)
    for now in (T0 + 10, T0 + 10.5, T0 + 11, T0 + 12.5, T0 + 13):
        await flush_all(n, now)
    # Failed at +10 (retry in 1 s), at +11 (retry in 2 s), sent at +13.
    assert len(channel.delivered) == 1
    labels = {"channel": "email", "reason": "refused"}
    assert registry.get_sample_value("detector_notifications_retried_total", labels) == 2


@pytest.mark.parametrize(
    ("errors", "reason"),
    [
        ([NotificationError("rejected", "550 no such user", retryable=False)], "rejected"),
        ([NotificationError("timeout", "no answer", retryable=True)] * 3, "timeout"),
    ],
)
async def test_given_up_notification_does_not_block_the_next(
    tmp_path: Path, registry: CollectorRegistry, errors: list[NotificationError], reason: str
) -> None:
    channel = Channel(*errors)
    n = notify(tmp_path, registry, channel)
    take(n, "mailto:gone@example.com", 0, change("A.a").model_dump_json().encode(), T0)
    for step in range(10):
        await flush_all(n, T0 + 10 + step * 5)
    assert channel.delivered == []
    labels = {"channel": "email", "reason": reason}
    assert registry.get_sample_value("detector_notifications_failed_total", labels) == 1
    take(n, "mailto:gone@example.com", 0, change("B.b").model_dump_json().encode(), T0 + 100)
    await flush_all(n, T0 + 110)
    assert [c.operation for c in channel.delivered[0][0].changes] == ["B.b"]
