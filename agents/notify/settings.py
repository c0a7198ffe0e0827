"""Settings of the notifier, read from ``DETECTOR_NOTIFY_*`` environment variables.

Grouping, repeats and mute windows live in the subscriptions file (reloaded while
running); what is here is how to reach people. Log links use the worker's link settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "DETECTOR_NOTIFY_"


class NotifySettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", env_ignore_empty=True
    )

    subscriptions: Path | None = Field(
        None, description="YAML subscriptions file (see deploy/); no notifications without it."
    )
    reload_interval: float = Field(
        10.0, gt=0, description="Seconds between checks of the subscriptions file's mtime."
    )
    flush_interval: float = Field(
        1.0, gt=0, description="Seconds between checks for notifications that are due."
    )
    smtp_host: str = Field("127.0.0.1", description="SMTP server host.")
    smtp_port: int = Field(25, ge=1, le=65535, description="SMTP server port.")
    smtp_tls: Literal["none", "starttls", "tls"] = Field(
        "none", description="none, starttls (upgrade a plain connection) or tls (implicit)."
    )
    smtp_user: str | None = Field(None, description="SMTP user; no login without it.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password; never logged.")
    smtp_timeout: float = Field(15.0, gt=0, description="Seconds before an SMTP attempt fails.")
    mail_from: str = Field(
        "integration-health@localhost", description="Sender address of the mails."
    )
    webhook_url: str | None = Field(
        None,
        pattern=r"^https?://",
        description="Also POST every problem and recovery as JSON to this URL.",
    )
    alertmanager_url: str | None = Field(
        None,
        pattern=r"^https?://",
        description="Also post every problem as an alert to this Alertmanager (base URL).",
    )
    webhook_timeout: float = Field(
        10.0, gt=0, description="Seconds before a webhook or Alertmanager POST fails."
    )
    retry_initial: float = Field(
        2.0, gt=0, description="First wait after a temporary failure; doubles each time."
    )
    retry_max: float = Field(300.0, gt=0, description="Longest wait between two attempts.")
    retry_give_up_after: int = Field(
        96, ge=1, description="Temporary failures in a row after which a notification is dropped."
    )
