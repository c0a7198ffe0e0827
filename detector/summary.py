"""What the dashboard shows per operation: the evaluator writes one of these per
operation to a global table, so every worker can serve every operation.

The activity figures (today's totals, 24 hourly buckets) are kept up to date one closed
window at a time, so they reach back further than the window retention."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from detector.guidance import guidance
from detector.state import OperationState
from detector.status import Status
from detector.windows import WindowCounts

HOURS = 24


class OperationSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    operation: str
    integration: str | None = None
    status: Status = Status.LEARNING
    since: float = Field(0.0, description="Epoch seconds the current status started (event time).")
    reason: str = ""
    guidance: str = Field("", description="What to do about the status, in plain words.")
    in_flight: int = Field(0, description="Events followed by event_id not finished yet.")
    pattern: str | None = Field(
        None, description="Failures at the same time of day on several recent days."
    )
    stuck_after: int | None = Field(
        None, description="Seconds in received or processing after which an event is stuck."
    )
    calls_today: int = 0
    errors_today: int = 0
    retries_today: int = 0
    day: str = Field("", description="The local date 'today' refers to (YYYY-MM-DD).")
    error_ratio_now: float | None = Field(None, description="Errors/calls, last 15 min.")
    error_ratio_normal: float | None = Field(None, description="The learned normal ratio.")
    calls_last_hour: int = 0
    expected_last_hour: float | None = Field(None, description="Calls expected in the last hour.")
    last_call_at: float | None = None
    # Calls and errors per hour for the last 24 hours, oldest first; the newest bucket
    # is the hour starting at ``hour_start``.
    hour_start: int = 0
    hourly_calls: list[int] = Field(default_factory=lambda: [0] * HOURS)
    hourly_errors: list[int] = Field(default_factory=lambda: [0] * HOURS)
    updated_at: float = Field(0.0, description="Event time of the evaluation that wrote this.")
    last_change_id: str | None = None

    def add_window(self, start: int, counts: WindowCounts, tz: ZoneInfo) -> None:
        """Count one closed window into today's totals and the hourly buckets."""
        day = datetime.fromtimestamp(start, tz=UTC).astimezone(tz).date().isoformat()
        if day != self.day:
            if day < self.day:
                return  # A window from an earlier day: today's totals do not include it.
            self.day = day
            self.calls_today = self.errors_today = self.retries_today = 0
        self.calls_today += counts.calls
        self.errors_today += counts.errors
        self.retries_today += counts.retries
        hour = start // 3600 * 3600
        if hour > self.hour_start:
            shift = min(HOURS, (hour - self.hour_start) // 3600)
            self.hourly_calls = self.hourly_calls[shift:] + [0] * shift
            self.hourly_errors = self.hourly_errors[shift:] + [0] * shift
            self.hour_start = hour
        slot = HOURS - 1 - (self.hour_start - hour) // 3600
        if slot >= 0:
            self.hourly_calls[slot] += counts.calls
            self.hourly_errors[slot] += counts.errors


def refresh(
    summary: OperationSummary, state: OperationState, last_call_at: float | None
) -> OperationSummary:
    """Copy the detector's current view of an operation into its dashboard row."""
    calls_15, errors_15 = state.quarter_sums[0], state.quarter_sums[1]
    summary.integration = state.integration
    summary.status = state.status
    summary.since = float(state.since)
    summary.reason = state.reason
    summary.guidance = guidance(state.status, state.observed, state.reason)
    summary.error_ratio_now = errors_15 / calls_15 if calls_15 else None
    summary.error_ratio_normal = state.baseline.error_ratio
    summary.calls_last_hour = int(state.hour_sums[0])
    # Until a whole hour was judged against a learned baseline, there is no expectation.
    summary.expected_last_hour = (
        state.hour_sums[2] if state.known >= len(state.recent_calls) else None
    )
    summary.last_call_at = last_call_at
    summary.updated_at = float(state.last_boundary)
    return summary
