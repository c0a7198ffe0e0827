"""The mail and webhook senders against a real SMTP server and a real HTTP server in the
test process: what arrives, and which failures are retryable."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp import web
from pydantic import SecretStr

from agents.notify.email import EmailNotifier
from agents.notify.settings import NotifySettings
from agents.notify.webhook import WebhookNotifier
from detector.errors import NotificationError
from detector.notify.grouping import Notification
from detector.notify.render import render
from detector.status import Status
from tests.integration.conftest import free_port
from tests.integration.smtp_server import Inbox, start_smtp
from tests.unit.notify_helpers import change

pytestmark = pytest.mark.integration
LINK = "http://dash.example/operations/Payments.Charge/log?from=1&to=2&exp=3&sig=abc"


def notification(address: str = "ops@example.com") -> Notification:
    bad = change(observed={"calls": 50, "errors": 50, "error_codes": {"401": 50}})
    return Notification("k1", f"mailto:{address}", (bad,), (), 3600)


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    box, port = Inbox(), free_port()
    controller = start_smtp(box, port)
    yield box, port
    controller.stop()


def mailer(port: int, **overrides: Any) -> EmailNotifier:
    return EmailNotifier(NotifySettings(smtp_port=port, smtp_timeout=5, **overrides))


async def test_mail_carries_subject_both_bodies_and_link(inbox: tuple[Inbox, int]) -> None:
    box, port = inbox
    note = notification()
    await mailer(port).send(note, render(note, {"Payments.Charge": LINK}), {})
    (mail,) = box.to("ops@example.com")
    assert mail["Subject"] == "[many problems] Payments.Charge (payments)"
    assert mail["Message-ID"] == "<k1@integration-health>"
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None
    assert html is not None
    assert LINK in text.get_content()
    assert "credentials" in text.get_content()
    assert LINK.replace("&", "&amp;") in html.get_content()


@pytest.mark.parametrize(
    ("reply", "reason", "retryable"),
    [
        ("550 5.1.1 no such mailbox", "rejected", False),
        ("450 4.2.1 mailbox busy, try later", "temporary", True),
    ],
)
async def test_refused_recipient(
    inbox: tuple[Inbox, int], reply: str, reason: str, retryable: bool
) -> None:
    box, port = inbox
    box.refuse["gone@example.com"] = reply
    note = notification("gone@example.com")
    with pytest.raises(NotificationError) as raised:
        await mailer(port).send(note, render(note, {}), {})
    assert (raised.value.reason, raised.value.retryable) == (reason, retryable)
    assert reply.split()[0] in raised.value.detail
    await mailer(port).send(notification(), render(notification(), {}), {})
    assert len(box.to("ops@example.com")) == 1


async def test_server_down_is_retryable() -> None:
    note = notification()
    with pytest.raises(NotificationError) as raised:
        await mailer(free_port()).send(note, render(note, {}), {})
    assert (raised.value.reason, raised.value.retryable) == ("refused", True)


async def test_the_password_shows_neither_in_settings_nor_in_errors() -> None:
    settings: dict[str, Any] = {
        "smtp_user": "bot",
        "smtp_password": SecretStr("hunter2-very-secret"),
    }
    note = notification()
    with pytest.raises(NotificationError) as raised:
        await mailer(free_port(), **settings).send(note, render(note, {}), {})
    shown = NotifySettings(**settings)
    for text in (str(raised.value), repr(shown), shown.model_dump_json()):
        assert "hunter2" not in text


@pytest.fixture
async def hook() -> AsyncIterator[tuple[str, list[Any], list[int]]]:
    received: list[Any] = []
    statuses: list[int] = []

    async def handle(request: web.Request) -> web.Response:
        received.append((request.headers.get("Idempotency-Key"), await request.json()))
        return web.Response(status=statuses.pop(0) if statuses else 204)

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}/hook", received, statuses
    await runner.cleanup()


async def test_webhook_posts_json(hook: tuple[str, list[Any], list[int]]) -> None:
    url, received, _ = hook
    recovered = change(previous=Status.MANY_PROBLEMS, status=Status.OK)
    note = Notification("k2", url, (recovered,), (), 3600)
    await WebhookNotifier(5).send(note, render(note, {}), {"Payments.Charge": LINK})
    ((key, body),) = received
    assert key == "k2"
    assert body["subject"] == "[ok] Payments.Charge (payments)"
    assert body["changes"][0]["status"] == "ok"
    assert body["changes"][0]["link"] == LINK
    assert body["changes"][0]["id"] == recovered.id


@pytest.mark.parametrize(("status", "retryable"), [(503, True), (429, True), (404, False)])
async def test_webhook_failures(
    hook: tuple[str, list[Any], list[int]], status: int, retryable: bool
) -> None:
    url, _, statuses = hook
    statuses.append(status)
    note = Notification("k3", url, (change(),), (), 3600)
    with pytest.raises(NotificationError) as raised:
        await WebhookNotifier(5).send(note, render(note, {}), {})
    assert (raised.value.reason, raised.value.retryable) == ("http", retryable)
