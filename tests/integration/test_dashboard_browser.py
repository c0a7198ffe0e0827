"""End to end in headless Chromium: the worker on the real broker, an incident injected
with the simulator, the operation turning to its problem status on the dashboard, the
log link followed to the failed calls (payloads shown as text), screenshots saved."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from detector.simulate import PROFILES, Incident, generate
from tests.integration.conftest import ROOT, WorkerProcess

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


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
async def test_incident_shows_on_the_dashboard_and_its_log(
    start_worker: Callable[..., WorkerProcess],
    producer: AIOKafkaProducer,
    worker_env: dict[str, str],
) -> None:
    from playwright.async_api import async_playwright

    now = int(time.time())
    incident = Incident("Website.Subscribe", "all_failing", now - 900, now + 600)
    records = list(generate(PROFILES[:3], [incident], now - 4 * 3600, now - 60, seed=9))
    records += [
        {
            "operation": "Website.Subscribe",
            "integration": "website",
            "status": "error",
            "timestamp": now - 120 + i,
            "error_code": "invalid_email",
            "source_record": f"form-{i}",
            "error_message": "no @ in the address",
            "payload": {"email": TRAP},
        }
        for i in range(3)
    ]
    records.sort(key=lambda r: float(r["timestamp"]))  # type: ignore[arg-type]
    topic = worker_env["DETECTOR_CALLS_TOPIC"]
    for record in records:
        await producer.send(topic, orjson.dumps(record), key=str(record["operation"]).encode())
    await producer.flush()
    worker = start_worker()
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            await page.goto(worker.url + "/")
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
            statuses = await page.eval_on_selector_all(
                "tr.entry", "rows => rows.map(r => r.dataset.status)"
            )
            assert set(statuses) == {"error"}
            await page.screenshot(path=str(ARTIFACTS / "log.png"), full_page=True)
        finally:
            await browser.close()
