"""The status contract: the four states of the seeds' dashboard, plus ``learning``,
and the status-change event published on the ``operation-status`` topic."""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Status(StrEnum):
    OK = "ok"
    SOME_PROBLEMS = "some_problems"
    MANY_PROBLEMS = "many_problems"
    NO_CALLS = "no_calls"
    LEARNING = "learning"

    @property
    def is_problem(self) -> bool:
        return self in PROBLEMS

    @property
    def label(self) -> str:
        """Words for people: mails and pages say 'many problems', not 'many_problems'."""
        return self.value.replace("_", " ")


PROBLEMS = frozenset({Status.SOME_PROBLEMS, Status.MANY_PROBLEMS, Status.NO_CALLS})


def change_id(operation: str, at: datetime, previous: Status | None, status: Status) -> str:
    """A stable id: the same decision made twice (a restart, a replay) gets the same id,
    so consumers can dedupe an at-least-once stream on it."""
    prev = previous.value if previous else "-"
    raw = f"{operation}\x1f{at.isoformat()}\x1f{prev}\x1f{status.value}".encode()
    return hashlib.sha256(raw).hexdigest()[:32]


class StatusChange(BaseModel):
    """One status change of one operation; the JSON published on ``operation-status``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="Stable, unique per change; dedupe on it.")
    operation: str
    integration: str | None = None
    previous: Status | None = Field(description="Null for the first status ever given.")
    status: Status
    at: datetime = Field(description="Event time of the decision (RFC 3339).")
    detected_at: datetime | None = Field(
        default=None, description="Wall clock when the worker decided (null in replay)."
    )
    reason: str = Field(description="Observed vs expected, in words a manager can read.")
    log_url: str | None = Field(
        default=None,
        description="Signed link to the log around the change (null in replay).",
    )
    observed: dict[str, Any] = Field(default_factory=dict)
    expected: dict[str, Any] = Field(default_factory=dict)
