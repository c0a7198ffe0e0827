"""Who sees what on the dashboard: nothing without credentials (401 for the API, the
login page for a browser), login with rate limiting, sessions, CSRF, API tokens, the SSO
proxy header, viewers limited to their integrations, masking, and security headers."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from aiohttp.test_utils import TestClient, TestServer

from agents.users import hash_password, put_user, read_users
from agents.web.auth import COOKIE, CSP
from agents.web.routes import STATIC
from detector import links
from detector.masking import FieldRules
from detector.oplog import LogEntry
from detector.summary import OperationSummary
from tests.unit.web_helpers import (
    NOW,
    PASSWORD,
    SECRET,
    TOKEN,
    Client,
    build_app,
    login,
    session_of,
    write_test_users,
)

OPERATIONS = {"Website.Subscribe": "website", "Crm.Push": "crm", "Erp.Pull": None}
CUSTOMER = {"email": "anna@example.com", "phone": "+7 912 345-67-89", "note": "call 89123456789"}


def summaries() -> dict[str, Any]:
    return {
        op: OperationSummary(operation=op, integration=integration, since=NOW - 600).model_dump(
            mode="json"
        )
        for op, integration in OPERATIONS.items()
    }


async def read_log(operation: str, start: float, end: float) -> list[LogEntry]:
    return [
        LogEntry(
            id="e1",
            kind="call",
            operation=operation,
            integration=OPERATIONS[operation],
            timestamp=NOW - 60,
            status="error",
            error_message="rejected anna@example.com with token=s3cr3t-value",
            payload={"customer": CUSTOMER, "order_email": "orders@example.com"},
            payload_state="present",
        )
    ]


def reveal_order_email(operation: str, _integration: str | None) -> FieldRules:
    return FieldRules(reveal=frozenset({"order_email"}) if operation == "Crm.Push" else frozenset())


@pytest.fixture
def users_path(tmp_path: Path) -> Path:
    path = tmp_path / "users.yaml"
    write_test_users(path)
    return path


@pytest.fixture
async def setup(users_path: Path) -> AsyncIterator[tuple[Client, Any]]:
    app, auth = build_app(
        users_path,
        summaries(),
        read_log,
        fields=reveal_order_email,
        proxy_header="X-Forwarded-User",
        proxy_trusted=frozenset({"127.0.0.1"}),
        attempts=3,
    )
    async with TestClient(TestServer(app)) as client:
        yield client, auth


@pytest.fixture
def client(setup: tuple[Client, Any]) -> Client:
    return setup[0]


def signed(operation: str) -> dict[str, str]:
    return links.sign(SECRET, links.LogLink(operation, int(NOW - 3600), int(NOW), int(NOW + 60)))


PROTECTED_API = ["/api/operations", "/api/operations/Crm.Push", "/api/me", "/api/nothing-here"]
PROTECTED_PAGES = ["/", "/operations/Crm.Push/log"]


async def test_without_credentials_the_api_answers_401_and_pages_send_to_login(
    client: Client,
) -> None:
    for path in [*PROTECTED_API, "/api/operations/Crm.Push/log"]:
        response = await client.get(path, allow_redirects=False)
        assert response.status == 401, path
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    for path in PROTECTED_PAGES:
        response = await client.get(path, allow_redirects=False, headers={"Accept": "text/html"})
        assert response.status == 302, path
        location = urlsplit(response.headers["Location"])
        assert location.path == "/login"
        assert dict(parse_qsl(location.query))["next"] == path
    for path in ("/login", "/static/app.js", "/static/app.css"):
        assert (await client.get(path)).status == 200, path
    response = await client.post("/logout", allow_redirects=False)
    assert response.status == 401


async def test_login_sets_a_strict_http_only_session_and_wrong_passwords_fail(
    client: Client,
) -> None:
    assert await login(client, "anna", "not the password") == 401
    assert await login(client, "nobody", PASSWORD) == 401
    assert (await client.get("/api/operations")).status == 401
    response = await client.post(
        "/login",
        data={"user": "anna", "password": PASSWORD, "next": "/operations/Crm.Push/log?x=1"},
        allow_redirects=False,
    )
    assert response.status == 303
    assert response.headers["Location"] == "/operations/Crm.Push/log?x=1"
    cookie = response.headers["Set-Cookie"]
    assert f"{COOKIE}=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    me = await (await client.get("/api/me")).json()
    assert (me["name"], me["role"]) == ("anna", "admin")


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil"])
async def test_login_never_redirects_off_site(client: Client, target: str) -> None:
    response = await client.post(
        "/login",
        data={"user": "anna", "password": PASSWORD, "next": target},
        allow_redirects=False,
    )
    assert response.headers["Location"] == "/"


async def test_failed_logins_are_rate_limited_per_address_and_user(client: Client) -> None:
    for _ in range(3):
        assert await login(client, "vic", "wrong password here") == 401
    response = await client.post("/login", data={"user": "vic", "password": PASSWORD})
    assert response.status == 429
    assert int(response.headers["Retry-After"]) > 0
    # Another user from the same address is held back as well.
    assert await login(client, "anna") == 429


async def test_a_tampered_or_stale_session_is_refused(
    setup: tuple[Client, Any], users_path: Path
) -> None:
    client, auth = setup
    session_of(client, auth, "vic")
    assert (await client.get("/api/operations")).status == 200
    good = client.session.cookie_jar.filter_cookies(client.make_url("/"))[COOKIE].value
    forged = good.replace("dmlj", "YW5uYQ", 1)  # base64 of "vic" -> "anna"
    client.session.cookie_jar.update_cookies({COOKIE: forged})
    assert (await client.get("/api/operations")).status == 401
    # A new password ends the sessions opened with the old one.
    client.session.cookie_jar.update_cookies({COOKIE: good})
    vic = read_users(users_path).get("vic")
    assert vic is not None
    put_user(users_path, vic.model_copy(update={"password": hash_password("another password!")}))
    auth.users.mtime = None  # The file's mtime may not have moved within its resolution.
    assert auth.users.check()
    assert (await client.get("/api/operations")).status == 401


async def test_logout_needs_the_csrf_token_and_a_same_site_origin(
    setup: tuple[Client, Any],
) -> None:
    client, auth = setup
    session_of(client, auth, "anna")
    assert (await client.post("/logout", allow_redirects=False)).status == 403
    csrf = (await (await client.get("/api/me")).json())["csrf"]
    foreign = {"X-CSRF-Token": csrf, "Origin": "https://evil.example"}
    assert (await client.post("/logout", headers=foreign, allow_redirects=False)).status == 403
    form = await client.post("/logout", data={"csrf": csrf}, allow_redirects=False)
    assert form.status == 303
    assert re.search(rf'{COOKIE}="";.*Max-Age=0', form.headers["Set-Cookie"])


async def test_login_from_another_site_is_refused(client: Client) -> None:
    response = await client.post(
        "/login",
        data={"user": "anna", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status == 403


async def test_api_tokens_open_the_api_for_scripts(client: Client) -> None:
    ok = await client.get("/api/operations", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status == 200
    bad = await client.get("/api/operations", headers={"Authorization": "Bearer dtk_nope"})
    assert bad.status == 401


async def test_a_trusted_proxy_header_names_the_user(client: Client) -> None:
    known = await client.get("/api/operations", headers={"X-Forwarded-User": "sso@example.com"})
    assert [r["operation"] for r in (await known.json())["operations"]] == ["Crm.Push"]
    unknown = await client.get("/api/operations", headers={"X-Forwarded-User": "eve@example.com"})
    assert unknown.status == 403


async def test_the_proxy_header_is_ignored_from_untrusted_addresses(users_path: Path) -> None:
    app, _ = build_app(
        users_path,
        summaries(),
        read_log,
        proxy_header="X-Forwarded-User",
        proxy_trusted=frozenset({"10.9.9.9"}),
    )
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/api/operations", headers={"X-Forwarded-User": "anna"})
        assert response.status == 401


async def test_a_viewer_sees_nothing_of_other_integrations(setup: tuple[Client, Any]) -> None:
    client, auth = setup
    session_of(client, auth, "vic")  # Granted web*.
    rows = (await (await client.get("/api/operations")).json())["operations"]
    assert [r["operation"] for r in rows] == ["Website.Subscribe"]
    assert (await client.get("/api/operations/Crm.Push")).status == 404
    assert (await client.get("/api/operations/Erp.Pull")).status == 404
    assert (await client.get("/api/operations/Website.Subscribe")).status == 200
    # Without a link of the other operation, its log stays shut even when logged in.
    assert (await client.get("/api/operations/Crm.Push/log")).status == 403
    session_of(client, auth, "anna")
    rows = (await (await client.get("/api/operations")).json())["operations"]
    assert sorted(r["operation"] for r in rows) == ["Crm.Push", "Erp.Pull", "Website.Subscribe"]


async def test_the_log_masks_personal_data_unless_a_rule_reveals_it(client: Client) -> None:
    """A signed link alone opens the log (mails carry one), masked like for everyone."""
    for operation in ("Website.Subscribe", "Crm.Push"):
        response = await client.get(f"/api/operations/{operation}/log", params=signed(operation))
        text = await response.text()
        assert response.status == 200
        for secret in ("anna@example.com", "912 345-67-89", "89123456789", "s3cr3t-value"):
            assert secret not in text
        entry = (await response.json())["entries"][0]
        assert entry["payload"]["customer"]["email"] == "[hidden]"
        assert entry["error_message"] == "rejected [email] with token=[secret]"
        revealed = entry["payload"]["order_email"] == "orders@example.com"
        assert revealed is (operation == "Crm.Push")


async def test_rotating_the_key_revokes_old_links_and_sessions(
    setup: tuple[Client, Any], users_path: Path
) -> None:
    _client, auth = setup
    old_session = auth.session_cookie(auth.users.current.get("anna"), NOW)
    app, _ = build_app(users_path, summaries(), read_log, secret=b"a-new-secret-after-rotation")
    async with TestClient(TestServer(app)) as rotated:
        response = await rotated.get("/api/operations/Crm.Push/log", params=signed("Crm.Push"))
        assert response.status == 403
        rotated.session.cookie_jar.update_cookies({COOKIE: old_session})
        assert (await rotated.get("/api/operations")).status == 401


async def test_every_answer_carries_the_security_headers(setup: tuple[Client, Any]) -> None:
    client, auth = setup
    answers = [await client.get(p, allow_redirects=False) for p in ("/api/operations", "/login")]
    session_of(client, auth, "anna")
    answers += [await client.get(p) for p in ("/", "/api/operations", "/static/app.js")]
    for response in answers:
        assert response.headers["Content-Security-Policy"] == CSP
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"


def test_pages_have_no_inline_script_or_handlers() -> None:
    """The CSP allows scripts from files only: nothing inline may be left to break."""
    for page in STATIC.glob("*.html"):
        text = page.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), page.name
        assert not re.search(r"\son[a-z]+\s*=", text, re.IGNORECASE), page.name
        assert "javascript:" not in text
        assert "style=" not in text


async def test_behind_the_proxy_failed_logins_count_per_forwarded_address(
    client: Client,
) -> None:
    """The proxy is one address for everyone: one client's failures must not lock out
    the others, so the forwarded address is what counts."""
    first, second = {"X-Forwarded-For": "198.51.100.7"}, {"X-Forwarded-For": "203.0.113.9"}
    for _ in range(3):
        assert await login(client, "x", "wrong password", first) == 401
    assert await login(client, "vic", PASSWORD, first) == 429
    assert await login(client, "vic", PASSWORD, second) == 303


async def test_state_changes_through_the_proxy_need_the_csrf_token(client: Client) -> None:
    sso = {"X-Forwarded-User": "sso@example.com"}
    assert (await client.post("/logout", headers=sso, allow_redirects=False)).status == 403
    csrf = (await (await client.get("/api/me", headers=sso)).json())["csrf"]
    both = {**sso, "X-CSRF-Token": csrf}
    assert (await client.post("/logout", headers=both, allow_redirects=False)).status == 303


async def test_garbage_credentials_are_refused_not_crashed_on(setup: tuple[Client, Any]) -> None:
    client, auth = setup
    for cookie in ("é.1.2.3", "....", "x", "YW5uYQ.notanumber.ab.cd", "Zm9v.9999999999.é.é"):
        client.session.cookie_jar.update_cookies({COOKIE: cookie})
        assert (await client.get("/api/operations")).status == 401, cookie
    session_of(client, auth, "anna")
    response = await client.post("/logout", headers={"X-CSRF-Token": "é"}, allow_redirects=False)
    assert response.status == 403
    bad = await client.get("/api/operations", headers={"Authorization": "Bearer é"})
    assert bad.status == 401


async def test_open_routes_skip_the_login_and_may_ask_their_own_token(users_path: Path) -> None:
    """How /metrics (DETECTOR_METRICS_TOKEN) and producer ingest declare their own auth."""
    from aiohttp import web

    from agents.web.auth import open_route, require_bearer

    @open_route
    async def scrape(request: web.Request) -> web.Response:
        require_bearer(request, "metrics-secret")
        return web.Response(text="ok")

    @open_route
    async def probe(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app, _ = build_app(users_path, summaries(), read_log)
    app.router.add_get("/scrape", scrape)
    app.router.add_get("/probe", probe)
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/probe")).status == 200
        assert (await client.get("/scrape")).status == 401
        wrong = await client.get("/scrape", headers={"Authorization": "Bearer nope"})
        assert wrong.status == 401
        right = await client.get("/scrape", headers={"Authorization": "Bearer metrics-secret"})
        assert right.status == 200
        assert right.headers["X-Frame-Options"] == "DENY"
