"""Every setting of the worker in one typed place, read from ``DETECTOR_*`` environment
variables or a ``.env`` file. A wrong value fails at start with a message naming the
variable. ``detector settings`` prints this table; ``.env.example`` mirrors it."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from detector.errors import ConfigError
from detector.events import NAME_LIMIT, Limits

ENV_PREFIX = "DETECTOR_"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_ignore_empty=True,
        extra="ignore",
        validate_default=True,
    )

    broker: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, comma separated host:port."
    )
    app_id: str = Field(
        "integration-health",
        pattern=r"^[A-Za-z0-9._-]+$",
        description="Consumer group and prefix of the worker's internal topics.",
    )
    calls_topic: str = Field("operation-calls", description="Topic of operation-call events.")
    invalid_topic: str = Field(
        "", description="Dead-letter topic for invalid events; default <calls_topic>.invalid."
    )
    status_topic: str = Field("operation-status", description="Topic of status changes.")
    log_topic: str = Field(
        "operation-log", description="Topic of the operation log (failed and retried calls)."
    )
    payload_topic: str = Field(
        "operation-log-payloads", description="Topic of the payloads of logged calls."
    )
    log_retention_days: float = Field(30.0, gt=0, description="Days the log metadata is kept.")
    payload_retention_days: float = Field(7.0, gt=0, description="Days logged payloads are kept.")
    link_secret: SecretStr | None = Field(
        None,
        description="HMAC secret of log links, 16+ characters; default: generated once "
        "and kept in <data_dir>/link-secret.",
    )
    public_url: str = Field(
        "http://127.0.0.1:6066",
        pattern=r"^https?://",
        description="Dashboard address that readers of status changes and mails reach (links).",
    )
    link_ttl_days: float = Field(
        7.0, gt=0, description="Days a log link (status change, mail, dashboard) stays valid."
    )
    link_before_seconds: int = Field(
        3600, ge=0, description="How much of the log before a status change its links show."
    )
    link_after_seconds: int = Field(
        3600, ge=0, description="How much of the log past the change (or now) its links show."
    )
    partitions: int = Field(
        4, ge=1, le=1024, description="Partitions of the topics the worker creates."
    )
    window_seconds: int = Field(
        60, ge=10, le=3600, description="Size of the event-time tumbling count windows."
    )
    window_retention_seconds: int = Field(
        3600,
        ge=60,
        description="How long a window keeps counting late events (event time).",
    )
    checkpoint_seconds: int = Field(
        300,
        ge=0,
        description="Most seconds of judged windows an operation's stored state (model, "
        "summary, lifecycle) lags behind between status changes; a restarted worker judges "
        "them again. 0: stored at every window end. At most half the window retention.",
    )
    grace_seconds: float = Field(
        15.0, ge=0, description="Wait after a window ends before judging it (late events)."
    )
    evaluation_interval: float = Field(
        5.0, gt=0, description="Seconds between evaluations of every known operation."
    )
    batch_size: int = Field(
        50_000, ge=1, description="Most events the ingest agent processes in one batch."
    )
    inflight_cap: int = Field(
        100_000,
        ge=1,
        description="Most events of one operation followed through their lifecycle at once; "
        "more are counted once at their outcome and in detector_inflight_overflow_total.",
    )
    max_count: int = Field(
        1_000_000,
        ge=1,
        le=1_000_000_000,
        description="Most calls one pre-aggregated record may stand for; larger records are "
        "dead-lettered (count_too_large).",
    )
    max_name_length: int = Field(
        200,
        ge=1,
        le=NAME_LIMIT,
        description="Longest operation or integration name; longer records are dead-lettered "
        "(invalid_name, as are names with control or bidi characters).",
    )
    max_operations: int = Field(
        20_000,
        ge=1,
        description="Most operations one worker tracks; calls of further new operations are "
        "dead-lettered (too_many_operations).",
    )
    max_operations_per_integration: int = Field(
        5_000,
        ge=1,
        description="Most operations of one integration a worker tracks (too_many_operations).",
    )
    idle_days: float = Field(
        30.0,
        gt=0,
        description="Days without a call after which an operation is forgotten (its table "
        "records and metric series).",
    )
    metrics_max_operations: int = Field(
        2_000,
        ge=0,
        description="Above this many operations in a worker, per-operation metric series give "
        "way to per-integration ones (operations with a problem keep theirs, up to this many).",
    )
    batch_within: float = Field(0.2, gt=0, description="Longest wait, in seconds, to fill a batch.")
    detection_config: Path | None = Field(
        None, description="YAML file of per-operation detection rules (see deploy/)."
    )
    ingest_tokens: SecretStr | None = Field(
        None,
        description="Producer tokens of HTTP ingest (POST /api/calls), as name=token pairs, "
        "comma separated; tokens of 16+ characters. No HTTP ingest without tokens.",
    )
    ingest_tokens_file: Path | None = Field(
        None, description="File of name=token lines for HTTP ingest (with or instead of the above)."
    )
    ingest_max_bytes: int = Field(
        10 * 1024 * 1024, ge=1024, description="Largest HTTP ingest body in bytes (413 beyond)."
    )
    ingest_write_timeout: float = Field(
        60.0,
        gt=0,
        description="Seconds HTTP ingest waits for Kafka to acknowledge a request (503 beyond).",
    )
    web_host: str = Field("127.0.0.1", description="Address of the dashboard and /metrics.")
    web_port: int = Field(6066, ge=1, le=65535, description="Port of the dashboard and /metrics.")
    data_dir: Path = Field(Path(".detector-data"), description="Worker's local state directory.")
    users_file: Path | None = Field(
        None,
        description="YAML file of dashboard users and grants (`detector users`); "
        "default <data_dir>/users.yaml.",
    )
    session_hours: float = Field(
        12.0, gt=0, description="Hours a dashboard login lasts (session cookie)."
    )
    login_attempts: int = Field(
        5, ge=1, description="Failed logins per address or user within 5 min before a pause."
    )
    auth_proxy_header: str = Field(
        "",
        pattern=r"^[A-Za-z0-9-]*$",
        description="Header carrying the user name from a trusted SSO proxy "
        "(e.g. X-Forwarded-User); off when empty.",
    )
    auth_proxy_trusted: str = Field(
        "127.0.0.1,::1",
        description="Comma-separated addresses of the reverse proxy whose user header "
        "and X-Forwarded-For are trusted.",
    )
    metrics_token: SecretStr | None = Field(
        None, description="Bearer token /metrics asks for; open when unset."
    )
    log_level: Literal["debug", "info", "warn", "error"] = Field(
        "info", description="Worker log level."
    )
    log_repeat_seconds: float = Field(
        60.0,
        ge=1,
        description="A warning or error repeated (a broker down) is logged once in this "
        "many seconds, then with the count of the repeats held back.",
    )
    session_timeout: float = Field(
        10.0, gt=0, description="Kafka consumer session timeout; a dead worker is noticed after it."
    )
    heartbeat_interval: float = Field(1.0, gt=0, description="Kafka consumer heartbeat interval.")
    rebalance_timeout: float = Field(10.0, gt=0, description="Kafka consumer rebalance timeout.")

    @model_validator(mode="after")
    def _derived(self) -> Settings:
        if not self.invalid_topic:
            self.invalid_topic = f"{self.calls_topic}.invalid"
        if self.users_file is None:
            self.users_file = self.data_dir / "users.yaml"
        if self.heartbeat_interval * 3 > self.session_timeout:
            raise ValueError(
                "DETECTOR_HEARTBEAT_INTERVAL must be at most a third of DETECTOR_SESSION_TIMEOUT"
            )
        if self.window_retention_seconds < self.window_seconds:
            raise ValueError(
                "DETECTOR_WINDOW_RETENTION_SECONDS must be at least DETECTOR_WINDOW_SECONDS"
            )
        return self

    @property
    def limits(self) -> Limits:
        """The bounds every decoded record is held to (count, names)."""
        return Limits(max_count=self.max_count, max_name_length=self.max_name_length)


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment; a bad value becomes a ``ConfigError`` naming it."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(describe_validation(exc, ENV_PREFIX)) from None


def describe_validation(exc: ValidationError, prefix: str) -> str:
    lines = ["invalid configuration:"]
    for err in exc.errors(include_url=False):
        name = "_".join(str(p) for p in err["loc"]).upper()
        where = f"{prefix}{name}" if name else "settings"
        lines.append(f"  {where}: {err['msg']} (got {err.get('input')!r})")
    return "\n".join(lines)
