"""The log page of a lifecycle operation in headless Chromium, on a live worker: the
dashboard row shows the events in flight and the failures that recur at 03:00; the log
puts stuck events first, shows one row per event with its timeline, groups a hundred-like
run of identical failures into one group with its count and an example to open, and
filters by event type and record; personal data stays masked, text stays text."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from tests.integration.conftest import WorkerProcess
from tests.integration.test_dashboard_browser import ARGS, ARTIFACTS, CHROMIUM, TRAP, log_in
from tests.integration.test_detection_live import publish
from tests.unit.web_helpers import write_test_users

pytestmark = [pytest.mark.integration, pytest.mark.browser]
OPERATION = "Crm.ContactSync"
EMAIL = "anna.customer@example.com"


def night(now: int) -> int:
    """The hour of day the history's failures come back at: twelve hours from now, so
    the last 40 minutes' failures never fall near it, whatever the hour the test runs."""
    return (now // 3600 + 12) % 24


def pattern(now: int) -> str:
    return f"failed around {night(now):02d}:00 on 3 of the last 3 days"


def traffic(now: int) -> list[dict[str, Any]]:
    """Calls for five days, failing at ``night(now)`` two, three and four days ago (not
    yesterday: near midnight the last 40 minutes fall on yesterday and would make its
    peak hour theirs), then the last 40 minutes of followed events: 5 delivered after a
    retry, 30 failed with one error, 4 stuck in processing since 35 minutes ago, 3 in
    processing for a minute (7 in flight)."""
    base = {"operation": OPERATION, "integration": "crm"}
    out: list[dict[str, Any]] = []
    today = now // 86400 * 86400
    for ts in range(now - 5 * 86400, now - 2700, 600):
        out.append(base | {"status": "ok", "timestamp": ts})
    for day in (2, 3, 4):
        at = today - day * 86400 + night(now) * 3600
        out += [base | {"status": "error", "timestamp": at + 60 * i, "error_code": "500"}
                for i in range(5)]  # fmt: skip

    def event(name: str, at: float, steps: list[tuple[str, float]], **fields: Any) -> None:
        for status, after in steps:
            out.append(base | {"event_id": name, "status": status, "timestamp": at + after}
                       | (fields if status == "received" else {}))  # fmt: skip

    for i in range(4):
        event(f"stuck-{i}", now - 2100 + i, [("received", 0), ("processing", 1)],
              event_type="contact.updated", source_record=f"S-{i}")  # fmt: skip
    for i in range(30):
        event(f"fail-{i}", now - 1500 + 10 * i, [("received", 0), ("processing", 1)],
              event_type="deal.updated", source_record=f"DL-{i}")  # fmt: skip
        out.append(base | {"event_id": f"fail-{i}", "status": "failed", "timestamp": now - 1497
                           + 10 * i, "error_code": "422",
                           "error_message": f"missing phone for {EMAIL}"})  # fmt: skip
    for i in range(5):
        at = now - 600 + 20 * i
        event(f"done-{i}", at, [("received", 0), ("processing", 1)],
              event_type="contact.updated", source_record=f"C-{i}")  # fmt: skip
        out.append(base | {"event_id": f"done-{i}", "status": "retrying", "timestamp": at + 4,
                           "error_code": "503", "error_message": TRAP})  # fmt: skip
        out.append(base | {"event_id": f"done-{i}", "status": "delivered", "timestamp": at + 8,
                           "destination_record": f"D-{i}"})  # fmt: skip
    for i in range(3):
        event(f"new-{i}", now - 60 + i, [("received", 0), ("processing", 1)],
              event_type="deal.updated", source_record=f"N-{i}")  # fmt: skip
    return sorted(out, key=lambda r: float(r["timestamp"]))


async def rows(page: Any) -> list[dict[str, str]]:
    return list(
        await page.eval_on_selector_all("#log tr.entry", "rows => rows.map(r => ({...r.dataset}))")
    )


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
async def test_the_log_shows_events_stuck_first_with_timelines_groups_and_filters(
    start_worker: Callable[..., WorkerProcess],
    producer: AIOKafkaProducer,
    worker_env: dict[str, str],
) -> None:
    from playwright.async_api import async_playwright

    now = int(time.time())
    await publish(producer, worker_env["DETECTOR_CALLS_TOPIC"], traffic(now))
    write_test_users(Path(worker_env["DETECTOR_DATA_DIR"]) / "users.yaml")  # anna: admin
    worker = start_worker(DETECTOR_EVALUATION_INTERVAL="2")
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            await log_in(page, worker.url, "anna")
            # The dashboard row: events in flight (exactly) and the nightly pattern.
            row = f'tr[data-operation="{OPERATION}"]'
            await page.wait_for_function(
                f"() => (document.querySelector('{row}') || {{}}).textContent"
                f"?.includes('7 events in flight') && document.querySelector('{row}')"
                f".textContent.includes('{pattern(now)}')",
                timeout=90_000,
            )
            api = await (await page.request.get(f"{worker.url}/api/operations/{OPERATION}")).json()
            assert (api["in_flight"], api["pattern"]) == (7, pattern(now))
            assert api["status"] in ("some_problems", "many_problems")
            await page.screenshot(path=str(ARTIFACTS / "lifecycle-dashboard.png"), full_page=True)

            # The log: one row per event, the 4 stuck ones first.
            await page.click(row + " a.log-link")
            await page.wait_for_selector("#log tr.entry.event", timeout=20_000)
            shown = await rows(page)
            assert [r["stuck"] for r in shown[:5]] == ["true"] * 4 + ["false"]
            assert {r["event"] for r in shown[:4]} == {f"stuck-{i}" for i in range(4)}
            events = [r["event"] for r in shown if "event" in r]
            assert len(events) == len(set(events)), "an event shown as several rows"
            note = await page.text_content("#stuck-note")
            assert note is not None
            assert "4 events stuck in received or processing for more than 15 min" in note

            await page.screenshot(path=str(ARTIFACTS / "lifecycle-log.png"), full_page=True)

            # The 30 identical failures are one group with its count; its example opens.
            group = "#groups tr.group[data-count='30']"
            text = await page.text_content(group)
            assert text is not None
            assert "422" in text
            assert "missing phone for [email]" in text
            await page.click(group + " button.open-example")
            await page.wait_for_function(
                "() => document.querySelectorAll('#log tr.entry').length === 1", timeout=20_000
            )
            (one,) = await rows(page)
            assert (one["status"], one["event"][:5]) == ("error", "fail-")
            await page.click("#show-all")

            # Filtered by event type: deal.updated only.
            await page.select_option("#event_type", "deal.updated")
            await page.wait_for_function(
                "() => { const r = [...document.querySelectorAll('#log tr.entry')];"
                " return r.length === 33 && r.every(x => x.dataset.eventType === 'deal.updated') }",
                timeout=20_000,
            )
            await page.select_option("#event_type", "")
            # Filtered by destination record; the event's timeline, one step after another.
            await page.fill("#record", "D-2")
            await page.wait_for_function(
                "() => { const r = [...document.querySelectorAll('#log tr.entry')];"
                " return r.length === 1 && r[0].dataset.event === 'done-2' }",
                timeout=20_000,
            )
            await page.click("#log tr.entry button.toggle-timeline")
            steps = await page.eval_on_selector_all(
                "#log tr.timeline:not([hidden]) li", "items => items.map(i => i.textContent)"
            )
            assert [s.split(" ")[0] for s in steps] == [
                "received", "processing", "retrying", "delivered"
            ]  # fmt: skip
            assert "503 <img src=x onerror=" in steps[2]  # Shown as text...
            assert await page.evaluate("window.__pwned") is None  # ...never run.
            await page.screenshot(path=str(ARTIFACTS / "lifecycle-timeline.png"), full_page=True)
            assert EMAIL not in await page.content()
        finally:
            await browser.close()
