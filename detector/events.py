"""The event contract of the ``operation-calls`` topic and its decoder.

One JSON object per call (or per pre-aggregated group of calls), key = operation.
Decoding never raises for bad input: it returns a ``DecodeError`` with a bounded
``reason`` so the shell can dead-letter the message and count it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from detector.errors import DecodeError

StatusName = Literal["received", "processing", "success", "error", "retrying"]
# Statuses of an event still under way: followed through ``event_id``, never counted alone.
UNDER_WAY = ("received", "processing")

STATUS_ALIASES: dict[str, StatusName] = {
    "success": "success",
    "ok": "success",
    "delivered": "success",
    "succeeded": "success",
    "error": "error",
    "failed": "error",
    "failure": "error",
    "retrying": "retrying",
    "retry": "retrying",
    "received": "received",
    "processing": "processing",
}


# The contract's longest operation or integration name; DETECTOR_MAX_NAME_LENGTH narrows it.
NAME_LIMIT = 1000
# Control, format (bidi overrides and isolates, zero-width), surrogate and line/paragraph
# separator characters: invisible or misleading in a metric label, a log line or a page.
_REFUSED_CATEGORIES = frozenset(("Cc", "Cf", "Cs", "Zl", "Zp"))


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds a record must keep beyond the contract's types (``DETECTOR_MAX_COUNT``,
    ``DETECTOR_MAX_NAME_LENGTH``).

    A bounded ``count`` keeps every window, baseline and metric an exact integer far
    from int64 overflow: ten records of 10^18 calls once crashed the worker for good.
    Names become metric labels, log lines and dashboard rows: bounded and printable.
    """

    max_count: int = 1_000_000
    max_name_length: int = 200


LIMITS = Limits()


def name_problem(name: str, max_length: int) -> str | None:
    """Why ``name`` cannot be an operation or integration name, or None if it can."""
    if len(name) > max_length:
        return f"is {len(name)} characters long, more than {max_length} (DETECTOR_MAX_NAME_LENGTH)"
    if name.isprintable():  # The common case, in one C call.
        return None
    for position, char in enumerate(name):
        if unicodedata.category(char) in _REFUSED_CATEGORIES:
            return (
                f"has the control or bidi character U+{ord(char):04X} at position {position}; "
                "names must be printable text"
            )
    return None


# Epoch numbers above this are milliseconds (1e11 s is the year 5138).
_MS_THRESHOLD = 1e11
MAX_FUTURE_SECONDS = 300.0


def parse_timestamp(value: Any) -> float:
    """RFC 3339 text or epoch seconds/milliseconds -> epoch seconds (UTC)."""
    if isinstance(value, bool):
        raise ValueError("timestamp must be RFC 3339 text or epoch seconds/milliseconds")
    if isinstance(value, int | float):
        seconds = value / 1000.0 if value > _MS_THRESHOLD else float(value)
        if seconds <= 0:
            raise ValueError("timestamp must be after 1970-01-01")
        return seconds
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"timestamp {value[:40]!r} is not RFC 3339") from None
        if parsed.tzinfo is None:
            raise ValueError(f"timestamp {value[:40]!r} has no time zone offset")
        return parsed.timestamp()
    raise ValueError("timestamp must be RFC 3339 text or epoch seconds/milliseconds")


class OperationCall(BaseModel):
    """One message of ``operation-calls``, validated. See ``schemas/operation-call.schema.json``."""

    model_config = ConfigDict(extra="allow", frozen=True)

    operation: str = Field(min_length=1, max_length=NAME_LIMIT)
    timestamp: float | None = None
    status: StatusName | None = None
    integration: str | None = Field(default=None, max_length=NAME_LIMIT)
    event_type: str | None = Field(default=None, max_length=200)
    event_id: str | None = Field(default=None, max_length=200)
    error_code: str | None = Field(default=None, max_length=200)
    error_message: str | None = Field(default=None, max_length=10_000)
    duration_ms: float | None = Field(default=None, ge=0)
    source_record: str | None = Field(default=None, max_length=500)
    destination_record: str | None = Field(default=None, max_length=500)
    payload: Any = None
    count: int | None = Field(default=None, ge=1)
    errors: int | None = Field(default=None, ge=0)

    @field_validator("timestamp", mode="before")
    @classmethod
    def _timestamp(cls, value: Any) -> float | None:
        return None if value is None else parse_timestamp(value)

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, value: Any) -> Any:
        if isinstance(value, str):
            alias = STATUS_ALIASES.get(value.strip().lower())
            if alias is None:
                raise ValueError(
                    f"status {value[:40]!r} is not one of received, processing, success, "
                    "error, retrying (or the aliases ok, delivered, failed, failure)"
                )
            return alias
        return value

    @field_validator("error_code", "event_id", "source_record", "destination_record", mode="before")
    @classmethod
    def _ids_as_text(cls, value: Any) -> Any:
        # Record ids and error codes are often numbers in producers' JSON.
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _counts(self) -> OperationCall:
        if self.count is None:
            if self.errors is not None:
                raise ValueError("errors is only allowed together with count")
            if self.status is None:
                raise ValueError("status is required unless the record is pre-aggregated (count)")
        elif self.errors is not None and self.errors > self.count:
            raise ValueError(f"errors ({self.errors}) is more than count ({self.count})")
        elif self.status in UNDER_WAY:
            raise ValueError(f"a pre-aggregated record (count) counts outcomes, not {self.status}")
        return self

    def tally(self) -> tuple[int, int, int]:
        """(calls, errors, retries) this record stands for, read alone: an event still
        under way stands for nothing until its outcome (``detector.lifecycle`` follows
        events by ``event_id`` and counts each once)."""
        if self.status in UNDER_WAY:
            return 0, 0, 0
        if self.count is None:
            return 1, int(self.status == "error"), int(self.status == "retrying")
        if self.errors is not None:
            return self.count, self.errors, 0
        if self.status == "error":
            return self.count, self.count, 0
        if self.status == "retrying":
            return self.count, 0, self.count
        return self.count, 0, 0


def decode(
    raw: bytes | None, fallback_timestamp: float | None = None, limits: Limits = LIMITS
) -> OperationCall:
    """Bytes -> a validated call, with the Kafka timestamp standing in for a missing one.

    Raises ``DecodeError`` whose ``reason`` is one of: ``empty``, ``not_json``,
    ``not_object``, ``invalid``, ``invalid_name`` (see ``name_problem``),
    ``count_too_large`` (more than ``limits.max_count``),
    ``no_timestamp``, ``future_timestamp`` (event time more than ``MAX_FUTURE_SECONDS``
    after the Kafka timestamp: a producer's clock is wrong, and believing it would make
    every window up to that time look silent).
    """
    if not raw:
        raise DecodeError("empty", "the message has no value")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DecodeError("not_json", f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise DecodeError("not_object", f"expected a JSON object, got {type(data).__name__}")
    try:
        call = OperationCall.model_validate(data)
    except ValidationError as exc:
        raise DecodeError("invalid", _describe(exc)) from None
    check_limits(call, limits)
    ts = event_time(call.timestamp, fallback_timestamp)
    return call if ts == call.timestamp else call.model_copy(update={"timestamp": ts})


def check_limits(call: OperationCall, limits: Limits) -> None:
    """``invalid_name`` for an operation or integration name too long or not printable
    text; ``count_too_large`` for a record counting more calls than ``limits.max_count``."""
    for field_name, name in (("operation", call.operation), ("integration", call.integration)):
        problem = None if name is None else name_problem(name, limits.max_name_length)
        if problem is not None:
            raise DecodeError("invalid_name", f"{field_name}: {problem}")
    if call.count is not None and call.count > limits.max_count:
        raise DecodeError(
            "count_too_large",
            f"count: {call.count} is more than the limit of {limits.max_count} calls per "
            "record (DETECTOR_MAX_COUNT); split the record",
        )


def event_time(timestamp: float | None, fallback_timestamp: float | None) -> float:
    """A call's event time: its own timestamp, else the Kafka message's; never far after
    the Kafka timestamp (``no_timestamp`` / ``future_timestamp`` otherwise)."""
    if timestamp is None:
        if fallback_timestamp is None:
            raise DecodeError("no_timestamp", "no timestamp and no message timestamp")
        return fallback_timestamp
    if fallback_timestamp is not None and timestamp > fallback_timestamp + MAX_FUTURE_SECONDS:
        ahead = timestamp - fallback_timestamp
        raise DecodeError(
            "future_timestamp", f"timestamp is {ahead:.0f} s after the message's Kafka timestamp"
        )
    return timestamp


def _describe(exc: ValidationError) -> str:
    """A one-line account of every failed field, e.g. ``operation: field required``."""
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "message"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)
