"""What the dashboard shows per operation: the evaluator writes one of these per
operation to a global table, so every worker can serve every operation."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from detector.status import Status


class OperationSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    operation: str
    integration: str | None = None
    status: Status
    since: float = Field(description="Epoch seconds the current status started (event time).")
    reason: str = ""
    calls_today: int = 0
    errors_today: int = 0
    retries_today: int = 0
    error_ratio_now: float | None = Field(None, description="Errors/calls, last 15 min.")
    error_ratio_normal: float | None = Field(None, description="The learned normal ratio.")
    calls_last_hour: int = 0
    expected_last_hour: float | None = Field(None, description="Calls expected in the last hour.")
    last_call_at: float | None = None
    # Calls and errors per hour for the last 24 hours, oldest first (24 entries each).
    hourly_calls: list[int] = Field(default_factory=list)
    hourly_errors: list[int] = Field(default_factory=list)
    updated_at: float = Field(0.0, description="Event time of the evaluation that wrote this.")
    last_change_id: str | None = None
