"""The signed log links the worker hands out (status changes, mails, the dashboard):
one dashboard address, one key and one ``LinkRule`` for all of them.

The key comes from the settings, or is generated once and kept in the data directory so
links survive restarts without setup. Rotating it (a new ``DETECTOR_LINK_SECRET``, or
deleting the kept file) revokes every link handed out before: they then get 403."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from agents.settings import Settings
from detector import links
from detector.errors import ConfigError


def link_secret(configured: SecretStr | None, data_dir: Path) -> bytes:
    if configured is not None and configured.get_secret_value():
        return configured.get_secret_value().encode()
    path = data_dir / "link-secret"
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        return path.read_text().strip().encode()
    except OSError as exc:
        raise ConfigError(
            f"cannot keep the link secret in {path}: {exc.strerror}; set DETECTOR_LINK_SECRET"
        ) from None


@dataclass(frozen=True)
class LinkMaker:
    base_url: str
    secret: bytes
    rule: links.LinkRule

    @classmethod
    def from_settings(cls, settings: Settings) -> LinkMaker:
        rule = links.LinkRule(
            ttl_seconds=int(settings.link_ttl_days * 86400),
            before_seconds=settings.link_before_seconds,
            after_seconds=settings.link_after_seconds,
        )
        return cls(settings.public_url, link_secret(settings.link_secret, settings.data_dir), rule)

    def url(self, operation: str, at: float, now: float, *, relative: bool = False) -> str:
        """The signed link to ``operation``'s log around ``at``; ``relative`` for pages
        served by the dashboard itself (no dependence on the public address)."""
        base = "" if relative else self.base_url
        return links.url(base, self.secret, self.rule.link(operation, at, now))
