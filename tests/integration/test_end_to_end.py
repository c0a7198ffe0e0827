"""What a user does: run `detector worker` with a subscriptions file, publish traffic,
break an integration, and receive the mail about it (real broker, real SMTP server);
the subscriber, who has no dashboard account, opens the log through the mail's link,
while the API without a link or login stays shut."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from detector.simulate import PROFILES, Incident, generate
from tests.integration.conftest import WorkerProcess, afternoon, free_port
from tests.integration.smtp_server import Inbox, start_smtp

pytestmark = pytest.mark.integration


async def test_an_incident_reaches_the_subscriber_by_mail(
    start_worker: Callable[..., WorkerProcess],
    producer: AIOKafkaProducer,
    worker_env: dict[str, str],
    tmp_path: Path,
) -> None:
    inbox = Inbox()
    port = free_port()
    controller = start_smtp(inbox, port)
    try:
        subscriptions = tmp_path / "subscriptions.yaml"
        subscriptions.write_text(
            "group_wait: 2s\nsubscribers:\n"
            "  - email: web-team@example.com\n    integrations: [website]\n"
            "    statuses: [many_problems]\n"
        )
        now = int(time.time())
        incident = Incident("Website.Subscribe", "all_failing", now - 1200, now + 600)
        records = list(
            generate(
                PROFILES[:3],
                [incident],
                now - 4 * 3600,
                now - 60,
                seed=5,
                utc_offset=afternoon(now),
            )
        )
        for record in records:
            key = str(record["operation"]).encode()
            await producer.send(worker_env["DETECTOR_CALLS_TOPIC"], orjson.dumps(record), key=key)
        await producer.flush()
        worker = start_worker(
            DETECTOR_NOTIFY_SUBSCRIPTIONS=str(subscriptions),
            DETECTOR_NOTIFY_SMTP_PORT=str(port),
            DETECTOR_LINK_SECRET="end-to-end-test-secret",
        )
        for _ in range(60):
            if inbox.to("web-team@example.com"):
                break
            await asyncio.sleep(1)
        mails = inbox.to("web-team@example.com")
        assert len(mails) == 1
        mail = mails[0]
        assert "many problems" in mail["Subject"]
        assert "Website.Subscribe" in mail["Subject"]
        text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert "failed" in text
        assert "/operations/Website.Subscribe/log?" in text
        link = urlsplit(next(w for w in text.split() if "/operations/" in w))
        async with aiohttp.ClientSession() as http:
            api = f"{worker.url}/api{link.path}?{link.query}"
            async with http.get(api) as response:
                assert response.status == 200
                assert (await response.json())["total"] > 0
            async with http.get(f"{worker.url}/api/operations") as response:
                assert response.status == 401
    finally:
        controller.stop()
