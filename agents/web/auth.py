"""Who is asking: login, sessions, API tokens and the SSO proxy header, for every route
of the worker's web port, plus the security headers on every answer.

- Built-in users log in at ``/login`` (argon2id hashes in the users file, failed logins
  rate-limited per address and per user) and get a signed session cookie: HttpOnly,
  SameSite=Strict, Secure when ``DETECTOR_PUBLIC_URL`` is https. The cookie names the user
  and its password's fingerprint, so a new password ends the old sessions; the user's
  role and grants are read from the users file on each request.
- Scripts send ``Authorization: Bearer <token>`` (``detector users token``).
- Behind an SSO proxy (oauth2-proxy and the like), ``DETECTOR_AUTH_PROXY_HEADER`` names
  the header carrying the user, trusted only from ``DETECTOR_AUTH_PROXY_TRUSTED``.
- State-changing requests made with the cookie or through the proxy need the CSRF token
  (``/api/me``) in the ``X-CSRF-Token`` header or a ``csrf`` form field, and a same-site
  ``Origin``. Behind a trusted proxy, failed logins are counted per forwarded address.

Without credentials, the API answers 401 and a browser is sent to ``/login``. A route
declares other rules with ``open_route`` (it does its own checks, or needs none:
``/metrics``, health, producer ingest) or ``link_route`` (a signed link is enough).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import html
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from aiohttp import web

from agents.users import UsersFile, check_password
from detector.access import LoginLimiter, User

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
COOKIE = "detector_session"
_AUTH = "_detector_auth"
USER = web.RequestKey("detector_user", User)
_SAFE = {"GET", "HEAD", "OPTIONS"}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def open_route(handler: Any) -> Any:
    """Mark a handler as checking its own credentials (or needing none)."""
    setattr(handler, _AUTH, "open")
    return handler


def link_route(handler: Any) -> Any:
    """Mark a handler that a signed link in the query opens without a login; the
    handler verifies the link."""
    setattr(handler, _AUTH, "link")
    return handler


@dataclass(frozen=True)
class Principal:
    user: User
    via: Literal["session", "token", "proxy"]


def current_user(request: web.Request) -> User | None:
    """The authenticated user, or None when a signed link alone opened the route."""
    return request.get(USER)


class Auth:
    def __init__(
        self,
        users: UsersFile,
        secret: bytes,
        *,
        session_seconds: float,
        secure_cookie: bool,
        public_host: str = "",
        attempts: int = 5,
        proxy_header: str = "",
        proxy_trusted: frozenset[str] = frozenset(),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.users = users
        # Derived from the link key: rotating that key ends every session as well.
        self.key = hmac.new(secret, b"detector-session-v1", hashlib.sha256).digest()
        self.session_seconds = session_seconds
        self.secure = secure_cookie
        self.public_host = public_host
        self.limiter = LoginLimiter(attempts=attempts)
        self.proxy_header = proxy_header
        self.proxy_trusted = proxy_trusted
        self.clock = clock

    def add_routes(self, app: web.Application) -> None:
        app.middlewares.append(self.middleware)
        app.on_response_prepare.append(security_headers(self.secure))
        app.router.add_get("/login", self.login_page)
        app.router.add_post("/login", self.login)
        app.router.add_post("/logout", self.logout)
        app.router.add_get("/api/me", self.me)

    # --- sessions -------------------------------------------------------------------

    def _sign(self, text: str) -> str:
        return hmac.new(self.key, text.encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def _fingerprint(user: User) -> str:
        return hashlib.sha256((user.password or "").encode()).hexdigest()[:16]

    def session_cookie(self, user: User, now: float) -> str:
        name = base64.urlsafe_b64encode(user.name.encode()).decode().rstrip("=")
        body = f"{name}.{int(now + self.session_seconds)}.{self._fingerprint(user)}"
        return f"{body}.{self._sign(body)}"

    def _session_user(self, cookie: str, now: float) -> User | None:
        body, _, sig = cookie.rpartition(".")
        if not _equal(self._sign(body), sig):
            return None
        try:
            name, expires, fingerprint = body.split(".")
            decoded = base64.urlsafe_b64decode(name + "=" * (-len(name) % 4)).decode()
            if now > int(expires):
                return None
        except ValueError:
            return None
        user = self.users.current.get(decoded)
        if user is None or not _equal(self._fingerprint(user), fingerprint):
            return None
        return user

    def csrf_token(self, request: web.Request) -> str:
        """Bound to the session cookie, or to the user behind an SSO proxy (whose own
        cookie a browser sends along just as automatically)."""
        user = request.get(USER)
        who = request.cookies.get(COOKIE) or f"proxy:{user.name if user else ''}"
        return self._sign("csrf:" + who)[:32]

    def client(self, request: web.Request) -> str:
        """The client's address: behind a trusted proxy, the one it forwarded."""
        forwarded = request.headers.get("X-Forwarded-For", "")
        if forwarded and request.remote in self.proxy_trusted:
            return forwarded.split(",")[-1].strip()
        return request.remote or ""

    # --- who is asking --------------------------------------------------------------

    def authenticate(self, request: web.Request) -> Principal | None:
        if self.proxy_header and request.remote in self.proxy_trusted:
            name = request.headers.get(self.proxy_header)
            if name:
                user = self.users.current.get(name)
                if user is None:
                    raise web.HTTPForbidden(
                        text=f"{name} has no access here: ask an admin to add you to the "
                        "users file with the integrations you need."
                    )
                return Principal(user, "proxy")
        authorization = request.headers.get("Authorization", "")
        if authorization.lower().startswith("bearer "):
            user = self.users.current.by_token(authorization[7:].strip())
            if user is None:
                raise _unauthorized("This API token is not valid (revoked or mistyped).")
            return Principal(user, "token")
        cookie = request.cookies.get(COOKIE)
        if cookie:
            user = self._session_user(cookie, self.clock())
            if user is not None:
                return Principal(user, "session")
        return None

    def _same_origin(self, request: web.Request) -> bool:
        origin = request.headers.get("Origin") or request.headers.get("Referer")
        if not origin:
            return True  # Not a browser, or one that sends neither: SameSite covers it.
        host = urlsplit(origin).netloc
        return host in {request.host, self.public_host}

    def _check_csrf(self, request: web.Request, form_token: str | None = None) -> None:
        sent = request.headers.get("X-CSRF-Token") or form_token or ""
        if not self._same_origin(request) or not _equal(sent, self.csrf_token(request)):
            raise web.HTTPForbidden(text="Missing or wrong CSRF token: reload the page.")

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        kind = _kind(request)
        if kind == "open":
            return await handler(request)
        principal = self.authenticate(request)
        if principal is None:
            if kind == "link" and "sig" in request.query:
                return await handler(request)
            raise _challenge(request)
        request[USER] = principal.user
        if principal.via != "token" and request.method not in _SAFE:
            form = await request.post() if request.content_type.endswith("form-urlencoded") else {}
            token = form.get("csrf")
            self._check_csrf(request, token if isinstance(token, str) else None)
        return await handler(request)

    # --- routes ---------------------------------------------------------------------

    @open_route
    async def login_page(self, request: web.Request) -> web.Response:
        return _login_form(_next(request.query.get("next")), "")

    @open_route
    async def login(self, request: web.Request) -> web.StreamResponse:
        if not self._same_origin(request):
            raise web.HTTPForbidden(text="Log in from the dashboard's own login page.")
        form = await request.post()
        name, password = str(form.get("user", "")), str(form.get("password", ""))
        target = _next(str(form.get("next", "")))
        now = self.clock()
        keys = (f"addr:{self.client(request)}", f"user:{name}")
        wait = self.limiter.retry_after(keys, now)
        if wait > 0:
            response = _login_form(target, f"Too many failed logins: wait {wait:.0f} s.", 429)
            response.headers["Retry-After"] = str(int(wait) + 1)
            return response
        user = self.users.current.get(name)
        # ~0.1-0.5 s of argon2 work: off the event loop, which serves the agents too.
        if not await asyncio.to_thread(check_password, user, password) or user is None:
            self.limiter.failed(keys, now)
            return _login_form(target, "Wrong user name or password.", 401)
        self.limiter.succeeded((f"user:{name}",))
        response = web.HTTPSeeOther(target)
        response.set_cookie(
            COOKIE,
            self.session_cookie(user, now),
            max_age=int(self.session_seconds),
            httponly=True,
            secure=self.secure,
            samesite="Strict",
            path="/",
        )
        return response

    async def logout(self, _request: web.Request) -> web.StreamResponse:
        response = web.HTTPSeeOther("/login")
        response.del_cookie(COOKIE, path="/")
        return response

    async def me(self, request: web.Request) -> web.Response:
        user = request[USER]
        return web.json_response(
            {
                "name": user.name,
                "role": user.role,
                "integrations": list(user.integrations),
                "csrf": self.csrf_token(request),
            }
        )


def _equal(expected: str, sent: str) -> bool:
    """Constant-time, and safe for whatever a client sends (non-ASCII str would raise)."""
    return hmac.compare_digest(expected.encode(), sent.encode("utf-8", "surrogateescape"))


def _kind(request: web.Request) -> str:
    route = request.match_info.route
    if isinstance(route.resource, web.StaticResource):
        return "open"  # The pages' own scripts and styles: no data in them.
    return str(getattr(request.match_info.handler, _AUTH, "user"))


def require_bearer(request: web.Request, token: str) -> None:
    """For an ``open_route`` guarded by one shared token (``/metrics``): 401 unless sent."""
    sent = request.headers.get("Authorization", "")
    if not _equal(f"Bearer {token}", sent):
        raise _unauthorized("This endpoint needs its bearer token.")


def _unauthorized(text: str) -> web.HTTPUnauthorized:
    return web.HTTPUnauthorized(
        text=text, headers={"WWW-Authenticate": 'Bearer realm="integration-health"'}
    )


def _challenge(request: web.Request) -> web.HTTPException:
    wants_page = request.method == "GET" and not request.path.startswith("/api/")
    if wants_page and "text/html" in request.headers.get("Accept", "text/html"):
        return web.HTTPFound("/login?next=" + quote(request.path_qs, safe=""))
    return _unauthorized("Log in first: a session cookie or an API token is needed.")


def _next(target: str | None) -> str:
    """Only a path on this site: never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _login_form(target: str, message: str, status: int = 200) -> web.Response:
    notice = f'<p class="error" role="alert">{html.escape(message)}</p>' if message else ""
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Log in · Integration health</title><link rel="stylesheet" href="/static/app.css">
</head><body><main class="login"><h1>Integration health</h1>{notice}
<form method="post" action="/login">
<input type="hidden" name="next" value="{html.escape(target, quote=True)}">
<label>User <input name="user" autocomplete="username" required autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password"
 required></label>
<button type="submit">Log in</button></form></main></body></html>"""
    return web.Response(text=body, content_type="text/html", status=status)


def security_headers(
    hsts: bool,
) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    async def add(request: web.Request, response: web.StreamResponse) -> None:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        # Log links carry their signature in the URL: never send it to another site as a
        # Referer (same-origin, not no-referrer: that makes browsers send "Origin: null").
        headers.setdefault("Referrer-Policy", "same-origin")
        if not request.path.startswith("/static/"):
            headers.setdefault("Cache-Control", "no-store")
        if hsts:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")

    return add
