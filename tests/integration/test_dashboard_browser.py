"""End to end in headless Chromium: the worker on the real broker, an incident injected
with the simulator; without a login every page sends to the login page and the API
answers 401; an admin logs in and sees the operation turn to its problem status, follows
the log link to the failed calls (payloads shown as text, personal data masked); a viewer
of another integration sees none of it. Screenshots saved."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from agents.users import hash_password, put_user
from detector.access import User
from detector.simulate import PROFILES, Incident, generate
from tests.integration.conftest import ROOT, WorkerProcess, afternoon
from tests.unit.web_helpers import PASSWORD, write_test_users

pytestmark = [pytest.mark.integration, pytest.mark.browser]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts"
TRAP = '<img src=x onerror="window.__pwned=1">'
EMAIL = "anna.customer@example.com"


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
async def test_incident_shows_on_the_dashboard_and_its_log(
    start_worker: Callable[..., WorkerProcess],
    producer: AIOKafkaProducer,
    worker_env: dict[str, str],
) -> None:
    from playwright.async_api import async_playwright

    now = int(time.time())
    incident = Incident("Website.Subscribe", "all_failing", now - 900, now + 600)
    records = list(
        generate(
            PROFILES[:3], [incident], now - 4 * 3600, now - 60, seed=9, utc_offset=afternoon(now)
        )
    )
    records += [
        {
            "operation": "Website.Subscribe",
            "integration": "website",
            "status": "error",
            "timestamp": now - 120 + i,
            "error_code": "invalid_email",
            "source_record": f"form-{i}",
            "error_message": "no @ in the address",
            "payload": {"comment": TRAP, "email": EMAIL, "note": f"write to {EMAIL}"},
        }
        for i in range(3)
    ]
    records.append(
        {"operation": "Crm.Push", "integration": "crm", "status": "ok", "timestamp": now - 100}
    )
    records.sort(key=lambda r: float(r["timestamp"]))  # type: ignore[arg-type]
    topic = worker_env["DETECTOR_CALLS_TOPIC"]
    for record in records:
        await producer.send(topic, orjson.dumps(record), key=str(record["operation"]).encode())
    await producer.flush()
    users = Path(worker_env["DETECTOR_DATA_DIR"]) / "users.yaml"
    write_test_users(users)  # anna: admin; vic: viewer of web*
    put_user(users, User(name="carl", integrations=("crm",), password=hash_password(PASSWORD)))
    worker = start_worker()
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            anonymous = await browser.new_page()
            for path in ("/", "/operations/Website.Subscribe/log"):
                await anonymous.goto(worker.url + path)
                assert urlsplit(anonymous.url).path == "/login"
            api = await anonymous.request.get(worker.url + "/api/operations")
            assert api.status == 401
            assert (await anonymous.request.get(worker.url + "/metrics")).status == 200
            await anonymous.screenshot(path=str(ARTIFACTS / "login.png"))

            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            await log_in(page, worker.url, "anna")
            row = 'tr[data-operation="Website.Subscribe"][data-status="many_problems"]'
            await page.wait_for_selector(row, timeout=45_000)
            assert await page.text_content(row + " .badge") == "many problems"
            await page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
            await page.click(row + " a.log-link")
            await page.wait_for_selector("tr.entry", timeout=20_000)
            await page.select_option("#status", "error")
            await page.wait_for_function(
                "() => [...document.querySelectorAll('tr.entry')].every("
                "r => r.dataset.status === 'error')",
                timeout=20_000,
            )
            await page.wait_for_selector('tr.entry >> text="form-2"', timeout=20_000)
            text = await page.text_content("#log")
            assert text is not None
            assert "invalid_email" in text
            assert "<img src=x onerror=" in text  # Shown as text...
            assert await page.evaluate("window.__pwned") is None  # ...never run.
            assert EMAIL not in text
            assert EMAIL not in await page.content()
            assert "[hidden]" in text
            assert "[email]" in text
            statuses = await page.eval_on_selector_all(
                "tr.entry", "rows => rows.map(r => r.dataset.status)"
            )
            assert set(statuses) == {"error"}
            await page.screenshot(path=str(ARTIFACTS / "log.png"), full_page=True)

            viewer = await browser.new_page(viewport={"width": 1280, "height": 900})
            await log_in(viewer, worker.url, "carl")
            await viewer.wait_for_selector('tr[data-operation="Crm.Push"]', timeout=45_000)
            shown = await viewer.eval_on_selector_all(
                "tr[data-operation]", "rows => rows.map(r => r.dataset.operation)"
            )
            assert shown == ["Crm.Push"]
            other = await viewer.request.get(worker.url + "/api/operations/Website.Subscribe")
            assert other.status == 404
            await viewer.screenshot(path=str(ARTIFACTS / "viewer.png"), full_page=True)
        finally:
            await browser.close()


async def log_in(page: Any, url: str, name: str) -> None:
    """Through the login page, as a person would."""
    await page.goto(url + "/")
    await page.fill('input[name="user"]', name)
    await page.fill('input[name="password"]', PASSWORD)
    await page.click('button[type="submit"]')
    await page.wait_for_selector("#who", state="visible", timeout=20_000)
    assert name in (await page.text_content("#who") or "")
