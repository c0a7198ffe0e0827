"""Who may see what: the users file's model and the grants it gives.

```yaml
users:
  - name: anna
    role: admin                    # sees every operation
    password: "$argon2id$..."      # set with `detector users passwd anna`
  - name: agency
    role: viewer                   # sees only the integrations granted
    integrations: ["website*", "crm"]
    tokens: ["sha256:..."]         # API tokens (`detector users token agency`)
  - name: sso-user@example.com     # a reverse-proxy (SSO) user needs no password
    role: viewer
    integrations: [website]
```

Pure: parsing, grants and the login rate limit; hashing and files live in the shell.
"""

from __future__ import annotations

import fnmatch
import hashlib
from collections import deque
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from detector.errors import config_error

TOKEN_PREFIX = "sha256:"


def token_digest(token: str) -> str:
    """How an API token is kept: high-entropy tokens need no slow hash, only no plain copy."""
    return TOKEN_PREFIX + hashlib.sha256(token.encode()).hexdigest()


class User(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\s:]+$")
    role: Literal["admin", "viewer"] = "viewer"
    integrations: tuple[str, ...] = Field((), description="Globs on integration names.")
    password: str | None = Field(None, description="Password hash (argon2id PHC string).")
    tokens: tuple[str, ...] = Field((), description="sha256 digests of API tokens.")

    @field_validator("tokens")
    @classmethod
    def _digests(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for token in value:
            if not token.startswith(TOKEN_PREFIX) or len(token) != len(TOKEN_PREFIX) + 64:
                raise ValueError("tokens are kept as 'sha256:<64 hex>'; add one with the CLI")
        return value

    def sees(self, integration: str | None) -> bool:
        """True if the user may see operations of ``integration`` (admins see all)."""
        if self.role == "admin":
            return True
        return integration is not None and any(
            fnmatch.fnmatchcase(integration, pattern) for pattern in self.integrations
        )


class Users(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    users: tuple[User, ...] = ()

    @field_validator("users")
    @classmethod
    def _unique(cls, value: tuple[User, ...]) -> tuple[User, ...]:
        names = [u.name for u in value]
        doubled = sorted({n for n in names if names.count(n) > 1})
        if doubled:
            raise ValueError(f"user names must be unique: {', '.join(doubled)}")
        return value

    def get(self, name: str) -> User | None:
        return next((u for u in self.users if u.name == name), None)

    def by_token(self, token: str) -> User | None:
        digest = token_digest(token)
        return next((u for u in self.users if digest in u.tokens), None)


def parse_users(data: dict[str, Any], source: str) -> Users:
    """A validated users file; a ``ConfigError`` naming the file, the entry and the field."""
    try:
        return Users.model_validate(data)
    except ValidationError as exc:
        raise config_error(exc, source, ("users",)) from None


class LoginLimiter:
    """At most ``attempts`` failed logins per key (a client address, a user name) within
    ``window`` seconds; time is a parameter, so this is tested without a clock."""

    def __init__(self, attempts: int = 5, window: float = 300.0, max_keys: int = 10_000) -> None:
        self.attempts = attempts
        self.window = window
        self.max_keys = max_keys
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.get(key, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def retry_after(self, keys: tuple[str, ...], now: float) -> float:
        """Seconds until another attempt is allowed for all of ``keys``; 0 if allowed now."""
        wait = 0.0
        for key in keys:
            failures = self._recent(key, now)
            if len(failures) >= self.attempts:
                # At least a millisecond: float rounding must not turn "wait" into "go".
                wait = max(wait, failures[0] + self.window - now, 0.001)
        return wait

    def failed(self, keys: tuple[str, ...], now: float) -> None:
        if len(self._failures) >= self.max_keys:  # Bounded memory under a spray of keys.
            self._failures = {k: v for k, v in self._failures.items() if self._recent(k, now)}
        for key in keys:
            failures = self._recent(key, now)
            failures.append(now)
            self._failures[key] = failures

    def succeeded(self, keys: tuple[str, ...]) -> None:
        for key in keys:
            self._failures.pop(key, None)
