"""Everything the detector remembers about one operation between windows, JSON-able so
it lives in a changelogged table: a restarted worker resumes with the same baseline and
status, and so makes the same decisions as one that never stopped."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from detector.baseline import Baseline
from detector.status import Status

VERSION = 1


@dataclass(slots=True)
class OperationState:
    integration: str | None
    first_boundary: int
    last_boundary: int
    baseline: Baseline = field(default_factory=Baseline)
    status: Status = Status.LEARNING
    since: int = 0
    reason: str = ""
    observed: dict[str, Any] = field(default_factory=dict)
    expected: dict[str, Any] = field(default_factory=dict)
    total_calls: int = 0
    # The last hour of windows, oldest first: calls, errors, and calls expected.
    recent_calls: list[int] = field(default_factory=list)
    recent_errors: list[int] = field(default_factory=list)
    recent_expected: list[float] = field(default_factory=list)  # Low estimate.
    recent_high: list[float] = field(default_factory=list)  # High estimate.
    last_call_boundary: int | None = None
    silent_expected: float = 0.0  # Calls expected since the last call.
    silent_effective: float = 0.0  # The same in independent bursts (over-dispersion).
    schedule_gap: int = 0  # Seconds without a call inside the configured schedule.
    calm: int = 0  # Windows in a row without a finding.
    milder: int = 0  # Windows in a row whose finding is milder than the status.
    held: int = 0  # Windows a partial-errors finding was held back (see Engine._hold).
    known: int = 0  # Windows in a row whose expected calls came from a learned baseline.
    # (window end, {error code: failed calls}) for the last hour's windows with errors.
    recent_codes: list[list[Any]] = field(default_factory=list)

    def error_codes(self, since: int) -> dict[str, int]:
        """Failed calls by error code in the windows ending after ``since``, top five."""
        totals: dict[str, int] = {}
        for end, codes in self.recent_codes:
            if end > since:
                for code, n in codes.items():
                    totals[code] = totals.get(code, 0) + n
        top = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
        return dict(top)

    # Running sums over the rings (the hour) and over their last ``quarter`` windows,
    # kept and stored rather than re-summed, so that a restored state continues with
    # exactly the same floating-point figures as one that never stopped.
    hour_sums: list[float] = field(default_factory=lambda: [0.0] * 4)
    quarter_sums: list[float] = field(default_factory=lambda: [0.0] * 4)
    five_sums: list[int] = field(default_factory=lambda: [0, 0])  # Calls, errors: 5 windows.

    def push(
        self,
        calls: int,
        errors: int,
        expected: float,
        high: float,
        keep: int,
        quarter: int,
        five: int,
    ) -> None:
        # Unrolled over the four rings: this runs once per operation per window.
        rc, re_, rx, rh = (
            self.recent_calls,
            self.recent_errors,
            self.recent_expected,
            self.recent_high,
        )
        hour, last = self.hour_sums, self.quarter_sums
        rc.append(calls)
        re_.append(errors)
        rx.append(expected)
        rh.append(high)
        hour[0] += calls
        hour[1] += errors
        hour[2] += expected
        hour[3] += high
        last[0] += calls
        last[1] += errors
        last[2] += expected
        last[3] += high
        size = len(rc)
        fives = self.five_sums
        fives[0] += calls
        fives[1] += errors
        if size > five:
            fives[0] -= rc[-five - 1]
            fives[1] -= re_[-five - 1]
        if size > quarter:
            i = -quarter - 1
            last[0] -= rc[i]
            last[1] -= re_[i]
            last[2] -= rx[i]
            last[3] -= rh[i]
        if size > keep:
            hour[0] -= rc.pop(0)
            hour[1] -= re_.pop(0)
            hour[2] -= rx.pop(0)
            hour[3] -= rh.pop(0)

    def last(self, windows: int) -> tuple[int, int, float]:
        """(calls, errors, expected) summed over the last ``windows`` windows."""
        return (
            sum(self.recent_calls[-windows:]),
            sum(self.recent_errors[-windows:]),
            sum(self.recent_expected[-windows:]),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": VERSION,
            "integration": self.integration,
            "first": self.first_boundary,
            "last": self.last_boundary,
            "baseline": self.baseline.to_dict(),
            "status": self.status.value,
            "since": self.since,
            "reason": self.reason,
            "observed": self.observed,
            "expected": self.expected,
            "total": self.total_calls,
            "rc": self.recent_calls,
            "re": self.recent_errors,
            "rx": self.recent_expected,
            "rh": self.recent_high,
            "lc": self.last_call_boundary,
            "se": self.silent_expected,
            "sf": self.silent_effective,
            "sg": self.schedule_gap,
            "calm": self.calm,
            "milder": self.milder,
            "held": self.held,
            "known": self.known,
            "codes": self.recent_codes,
            "hs": self.hour_sums,
            "qs": self.quarter_sums,
            "fs": self.five_sums,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> OperationState:
        if raw.get("v") != VERSION:
            raise ValueError(f"unknown operation state version {raw.get('v')!r}")
        return cls(
            integration=raw["integration"],
            first_boundary=raw["first"],
            last_boundary=raw["last"],
            baseline=Baseline.from_dict(raw["baseline"]),
            status=Status(raw["status"]),
            since=raw["since"],
            reason=raw["reason"],
            observed=dict(raw["observed"]),
            expected=dict(raw["expected"]),
            total_calls=raw["total"],
            recent_calls=list(raw["rc"]),
            recent_errors=list(raw["re"]),
            recent_expected=list(raw["rx"]),
            recent_high=list(raw["rh"]),
            last_call_boundary=raw["lc"],
            silent_expected=raw["se"],
            silent_effective=raw["sf"],
            schedule_gap=raw["sg"],
            calm=raw["calm"],
            milder=raw["milder"],
            held=raw["held"],
            known=raw["known"],
            recent_codes=[list(entry) for entry in raw["codes"]],
            hour_sums=list(raw["hs"]),
            quarter_sums=list(raw["qs"]),
            five_sums=list(raw["fs"]),
        )
