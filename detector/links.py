"""Signed, expiring links to an operation's log around an incident.

A link carries the operation, a time range and an expiry, signed with HMAC-SHA256 over
all of them: anyone holding the link may open it, nobody can forge, alter or enumerate one.
The format (decided by the notifier issue, served by the dashboard):

    {base_url}/operations/{operation}/log?from={epoch}&to={epoch}&exp={epoch}&sig={hex}
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from detector.errors import DetectorError


class LinkError(DetectorError):
    """A link is unsigned, altered, or expired; the message is safe to show (403)."""


@dataclass(frozen=True)
class LogLink:
    operation: str
    start: int
    end: int
    expires: int


def _signature(secret: bytes, link: LogLink) -> str:
    msg = f"{link.operation}\x1f{link.start}\x1f{link.end}\x1f{link.expires}".encode()
    return hmac.new(secret, msg, hashlib.sha256).hexdigest()


def sign(secret: bytes, link: LogLink) -> dict[str, str]:
    """The query parameters of a signed link."""
    return {
        "from": str(link.start),
        "to": str(link.end),
        "exp": str(link.expires),
        "sig": _signature(secret, link),
    }


def url(base_url: str, secret: bytes, link: LogLink) -> str:
    path = f"/operations/{quote(link.operation, safe='')}/log"
    return f"{base_url.rstrip('/')}{path}?{urlencode(sign(secret, link))}"


@dataclass(frozen=True)
class LinkRule:
    """How long a link lives and how much of the log it opens: one rule for the links in
    status changes, in mails and on the dashboard, so all three show the same window."""

    ttl_seconds: int = 7 * 86400
    before_seconds: int = 3600
    after_seconds: int = 3600

    def window(self, at: float, now: float) -> tuple[int, int]:
        """From ``before_seconds`` ahead of ``at`` to ``after_seconds`` past the later of
        ``at`` and ``now``: the lead-up to a change and everything since."""
        return max(0, int(at) - self.before_seconds), int(max(at, now)) + self.after_seconds

    def link(self, operation: str, at: float, now: float) -> LogLink:
        start, end = self.window(at, now)
        return LogLink(operation, start, end, int(now) + self.ttl_seconds)


def verify(secret: bytes, operation: str, params: dict[str, str], now: float) -> LogLink:
    """Check a link's query parameters for ``operation``; raise ``LinkError`` if not valid."""
    try:
        link = LogLink(operation, int(params["from"]), int(params["to"]), int(params["exp"]))
        sig = params["sig"]
    except (KeyError, ValueError):
        raise LinkError("This link is not signed. Ask for a new link to the log.") from None
    if not hmac.compare_digest(_signature(secret, link), sig):
        raise LinkError("This link is not valid: it was altered or belongs to another log.")
    if now > link.expires:
        raise LinkError("This link has expired. Ask for a new link to the log.")
    return link
