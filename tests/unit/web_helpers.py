"""An in-process dashboard with logins, for the web tests: a users file with an admin and
a viewer of the ``website`` integration, and a login helper."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from agents.links import LinkMaker
from agents.users import UsersFile, hash_password, write_users
from agents.web.auth import COOKIE, Auth
from agents.web.routes import Dashboard
from detector import links
from detector.access import User, Users, token_digest
from detector.masking import FieldRules
from detector.oplog import LogEntry

NOW = 1_790_000_000.0
SECRET = b"a-test-secret-of-enough-length"
PASSWORD = "correct horse battery"
TOKEN = "dtk_test-token-of-the-viewer"
Client = TestClient[web.Request, web.Application]
LogReader = Callable[[str, float, float], Awaitable[list[LogEntry]]]


@cache
def _hashed() -> str:
    return hash_password(PASSWORD)


def write_test_users(path: Path) -> None:
    hashed = _hashed()
    write_users(
        path,
        Users(
            users=(
                User(name="anna", role="admin", password=hashed),
                User(
                    name="vic",
                    integrations=("web*",),
                    password=hashed,
                    tokens=(token_digest(TOKEN),),
                ),
                User(name="sso@example.com", integrations=("crm",)),
            )
        ),
    )


def build_app(
    users_path: Path,
    summaries: Mapping[str, Any],
    read_log: LogReader,
    *,
    secret: bytes = SECRET,
    fields: Callable[[str, str | None], FieldRules] = lambda _op, _integration: FieldRules(),
    **options: Any,
) -> tuple[web.Application, Auth]:
    app = web.Application()
    auth = Auth(
        UsersFile(users_path),
        secret,
        session_seconds=3600,
        secure_cookie=False,
        clock=lambda: NOW,
        **options,
    )
    auth.add_routes(app)
    maker = LinkMaker("http://dash", secret, links.LinkRule(ttl_seconds=86400))
    Dashboard(lambda: summaries, read_log, maker, fields, clock=lambda: NOW).add_routes(app)
    return app, auth


def session_of(client: Client, auth: Auth, name: str) -> None:
    """Logged in as ``name`` without the login form (and its slow password check)."""
    user = auth.users.current.get(name)
    assert user is not None
    client.session.cookie_jar.update_cookies({COOKIE: auth.session_cookie(user, NOW)})


async def login(
    client: Client, name: str, password: str = PASSWORD, headers: dict[str, str] | None = None
) -> int:
    response = await client.post(
        "/login",
        data={"user": name, "password": password, "next": "/"},
        headers=headers,
        allow_redirects=False,
    )
    return response.status
