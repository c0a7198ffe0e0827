"""The dashboard's JSON API and pages, on an in-process aiohttp server with a fake
source, logged in as an admin: listing, signed log links (forged, tampered, expired,
other operation -> 403), filters and paging, masking, and escaping of what events contain."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp.test_utils import TestClient, TestServer

from detector import links
from detector.oplog import LogEntry
from detector.summary import OperationSummary
from tests.unit.web_helpers import NOW, SECRET, Client, build_app, session_of, write_test_users

XSS = "<script>alert('x')</script>"


def entries(operation: str, start: float, end: float) -> list[LogEntry]:
    base = {"operation": operation, "kind": "call", "count": 1}
    made = [
        LogEntry(
            id=f"e{i}",
            timestamp=NOW - 60 * i,
            status="error" if i % 2 else "retrying",
            error_message=XSS,
            payload={"html": XSS},
            payload_state="present",
            **base,
        )
        for i in range(120)
    ]
    made.append(
        LogEntry(
            id="old", timestamp=NOW - 20 * 86400, status="error", payload_state="expired", **base
        )
    )
    return [e for e in made if start <= e.timestamp <= end]


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    summaries = {
        op: OperationSummary(
            operation=op, integration="website", status="ok", since=NOW - 7200
        ).model_dump(mode="json")
        for op in ("Website.Subscribe", "Website.Unsubscribe")
    }

    async def read_log(operation: str, start: float, end: float) -> list[LogEntry]:
        return entries(operation, start, end)

    write_test_users(tmp_path / "users.yaml")
    app, auth = build_app(tmp_path / "users.yaml", summaries, read_log)
    async with TestClient(TestServer(app)) as test_client:
        session_of(test_client, auth, "anna")
        yield test_client


def signed(
    operation: str, start: float = NOW - 86400, end: float = NOW, expires: float = NOW + 60
) -> dict[str, str]:
    return links.sign(SECRET, links.LogLink(operation, int(start), int(end), int(expires)))


async def test_operations_list_every_operation_with_a_working_log_link(client: Client) -> None:
    response = await client.get("/api/operations")
    assert response.status == 200
    rows = (await response.json())["operations"]
    assert [r["operation"] for r in rows] == ["Website.Subscribe", "Website.Unsubscribe"]
    url = urlsplit(rows[0]["log_url"])
    assert url.path == "/operations/Website.Subscribe/log"
    page = await client.get(url.path + "?" + url.query)
    assert page.status == 200
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    log = await client.get("/api/operations/Website.Subscribe/log", params=query)
    assert (await log.json())["total"] == 120


async def test_log_is_newest_first_filtered_and_paged(client: Client) -> None:
    params = signed("Website.Subscribe")
    first = await (await client.get("/api/operations/Website.Subscribe/log", params=params)).json()
    assert len(first["entries"]) == 50
    times = [e["timestamp"] for e in first["entries"]]
    assert times == sorted(times, reverse=True)
    third = await (
        await client.get("/api/operations/Website.Subscribe/log", params={**params, "page": "3"})
    ).json()
    assert len(third["entries"]) == 20
    errors = await (
        await client.get(
            "/api/operations/Website.Subscribe/log", params={**params, "status": "error"}
        )
    ).json()
    assert errors["total"] == 60
    assert {e["status"] for e in errors["entries"]} == {"error"}


@pytest.mark.parametrize(
    ("path_operation", "change"),
    [
        ("Website.Subscribe", {"sig": "0" * 64}),  # forged
        ("Website.Subscribe", {"to": str(int(NOW + 86400))}),  # tampered range
        ("Website.Subscribe", {"exp": str(int(NOW + 10**6))}),  # tampered expiry
        ("Website.Unsubscribe", {}),  # a link of another operation
        ("Website.Subscribe", {"sig": None}),  # unsigned
    ],
)
async def test_forged_tampered_or_foreign_links_get_403(
    client: Client,
    path_operation: str,
    change: dict[str, str | None],
) -> None:
    params: dict[str, str] = {**signed("Website.Subscribe")}
    for key, value in change.items():
        if value is None:
            params.pop(key)
        else:
            params[key] = value
    for path in (f"/operations/{path_operation}/log", f"/api/operations/{path_operation}/log"):
        response = await client.get(path, params=params)
        assert response.status == 403
        assert "link" in (await response.text()).lower()


async def test_expired_link_gets_403(client: Client) -> None:
    params = signed("Website.Subscribe", expires=NOW - 1)
    response = await client.get("/api/operations/Website.Subscribe/log", params=params)
    assert response.status == 403
    assert "expired" in await response.text()


async def test_payloads_are_data_and_expired_ones_say_so(client: Client) -> None:
    params = signed("Website.Subscribe", start=NOW - 30 * 86400)
    data = await (
        await client.get("/api/operations/Website.Subscribe/log", params={**params, "page": "3"})
    ).json()
    assert data["entries"][-1]["payload_state"] == "expired"
    response = await client.get("/api/operations/Website.Subscribe/log", params=params)
    assert response.content_type == "application/json"
    assert (await response.json())["entries"][0]["payload"] == {"html": XSS}


async def test_pages_never_insert_event_text_as_html() -> None:
    """The scripts write event data with textContent only."""
    from agents.web.routes import STATIC

    for script in ("app.js", "log.js"):
        text = (STATIC / script).read_text()
        assert "innerHTML" not in text
        assert "textContent" in text


async def test_the_served_range_ends_at_now_so_pages_stay_put(client: Client) -> None:
    # The link reaches an hour past now; what is served stops at now, and that end is
    # what the page passes back as ``until`` while paging.
    params = signed("Website.Subscribe", end=NOW + 3600)
    body = await (await client.get("/api/operations/Website.Subscribe/log", params=params)).json()
    assert body["to"] == NOW
    pinned = {**params, "until": str(body["to"] - 60), "page": "3"}
    third = await (await client.get("/api/operations/Website.Subscribe/log", params=pinned)).json()
    assert (third["total"], len(third["entries"])) == (119, 19)


async def test_operations_are_filtered_and_paged_on_the_server(client: Client) -> None:
    data = await (await client.get("/api/operations", params={"limit": "1", "q": "sub"})).json()
    assert [r["operation"] for r in data["operations"]] == ["Website.Subscribe"]
    assert (data["total"], data["all"], data["limit"]) == (2, 2, 1)
    assert data["integrations"] == ["website"]
    second = await client.get("/api/operations", params={"limit": "1", "offset": "1", "q": "SUB"})
    assert [r["operation"] for r in (await second.json())["operations"]] == ["Website.Unsubscribe"]
    none = await (await client.get("/api/operations", params={"status": "problems"})).json()
    assert (none["operations"], none["total"]) == ([], 0)
    for bad in ({"limit": "0"}, {"limit": "100000"}, {"offset": "-1"}, {"limit": "ten"}):
        response = await client.get("/api/operations", params=bad)
        assert response.status == 400
        assert next(iter(bad)) in await response.text()
