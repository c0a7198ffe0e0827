"""The HMAC secret of log links: from the settings, or generated once and kept in the
data directory, so links stay valid across restarts without any setup."""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import SecretStr

from detector.errors import ConfigError


def link_secret(*configured: SecretStr | None, data_dir: Path) -> bytes:
    for value in configured:
        if value is not None and value.get_secret_value():
            return value.get_secret_value().encode()
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
