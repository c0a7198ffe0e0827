"""Everything the detector remembers about one operation between windows, JSON-able so
it lives in a changelogged table: a restarted worker resumes with the same baseline and
status, and so makes the same decisions as one that never stopped."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

from detector import stored
from detector.baseline import Baseline, migrate_baseline_v1
from detector.status import Status
from detector.windows import MAX_ERROR_CODES

VERSION = 2
MAX_RING = 360  # Windows in the hour ring at the smallest window (10 s).


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
    # Calls and expected calls so far in the current clock hour, and its start: how busy
    # the operation is this hour, for judging a silence within it (rules.level_estimate).
    level: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    calm: int = 0  # Windows in a row without a finding.
    milder: int = 0  # Windows in a row whose finding is milder than the status.
    held: int = 0  # Windows a partial-errors finding was held back (see Engine._hold).
    known: int = 0  # Windows in a row whose expected calls came from a learned baseline.
    # The volume finding of the last judged hour ("status", "reason", "observed",
    # "expected"), held until the next hour is judged (Engine.settle).
    volume: dict[str, Any] | None = None
    # (window end, {error code: failed calls}) for the last hour's windows with errors.
    recent_codes: list[list[Any]] = field(default_factory=list)
    # (window end, repeats, looped) for the last 15 minutes' windows with repeated ids,
    # and the operation's normal share of looped calls (``detector.repeats``).
    recent_repeats: list[list[int]] = field(default_factory=list)
    looped_normal: float = 0.0

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
        """The stored form: field names as keys, under a format version."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["baseline"] = self.baseline.to_dict()
        data["status"] = self.status.value
        return {"version": VERSION, **data}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> OperationState:
        """A stored state of this or an earlier format; ``ValueError`` if unusable.
        Fields missing from an older record take their defaults."""
        data = migrate(raw)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown operation state fields {unknown}")
        data = {name: _copied(value) for name, value in data.items()}
        data["baseline"] = Baseline.from_dict(stored.mapping(data.get("baseline"), "baseline"))
        data["status"] = Status(data["status"])
        state = cls(**data)
        state._check()
        return state

    def _check(self) -> None:
        """``ValueError`` naming the first field out of type or range: a restored state
        is used only whole and sound (see ``detector.stored``)."""
        if self.integration is not None:
            stored.text(self.integration, "integration")
        for name in ("first_boundary", "last_boundary", "since", "total_calls", "schedule_gap"):
            stored.count(getattr(self, name), name)
        for name in ("calm", "milder", "held", "known"):
            stored.count(getattr(self, name), name)
        if self.last_boundary < self.first_boundary:
            raise ValueError("last_boundary: before first_boundary")
        if self.last_call_boundary is not None:
            stored.count(self.last_call_boundary, "last_call_boundary")
        stored.text(self.reason, "reason")
        stored.mapping(self.observed, "observed")
        stored.mapping(self.expected, "expected")
        ring = len(self.recent_calls)
        if ring > MAX_RING:
            raise ValueError(f"recent_calls: {ring} windows, more than {MAX_RING}")
        stored.counts(self.recent_calls, "recent_calls")
        stored.counts(self.recent_errors, "recent_errors", ring)
        stored.numbers(self.recent_expected, "recent_expected", ring)
        stored.numbers(self.recent_high, "recent_high", ring)
        stored.number(self.silent_expected, "silent_expected")
        stored.number(self.silent_effective, "silent_effective")
        stored.number(self.looped_normal, "looped_normal")
        if type(self.recent_repeats) is not list or len(self.recent_repeats) > MAX_RING:
            raise ValueError("recent_repeats: expected a list of at most one entry per window")
        for entry in self.recent_repeats:
            stored.counts(entry, "recent_repeats", 3)
        stored.numbers(self.level, "level", 3)
        # Running sums: float subtraction may leave them a hair below zero.
        stored.numbers(self.hour_sums, "hour_sums", 4, -math.inf)
        stored.numbers(self.quarter_sums, "quarter_sums", 4, -math.inf)
        stored.counts(self.five_sums, "five_sums", 2)
        if type(self.recent_codes) is not list or len(self.recent_codes) > MAX_RING:
            raise ValueError("recent_codes: expected a list of at most one entry per window")
        for entry in self.recent_codes:
            if type(entry) is not list or len(entry) != 2:
                raise ValueError("recent_codes: expected [window end, error codes] entries")
            stored.count(entry[0], "recent_codes")
            stored.code_counts(entry[1], "recent_codes", MAX_RING * (MAX_ERROR_CODES + 1))


def _copied(value: Any) -> Any:
    """Lists and mappings copied (two levels, as deep as the state nests them), so the
    engine never mutates the record it was restored from."""
    if isinstance(value, list):
        return [_copied(v) if isinstance(v, list | dict) else v for v in value]
    if isinstance(value, dict):
        return {k: list(v) if isinstance(v, list) else v for k, v in value.items()}
    return value


# Version 1 stored short keys; version 2 stores the field names.
_V1_STATE_KEYS = {
    "first": "first_boundary",
    "last": "last_boundary",
    "total": "total_calls",
    "rc": "recent_calls",
    "re": "recent_errors",
    "rx": "recent_expected",
    "rh": "recent_high",
    "lc": "last_call_boundary",
    "se": "silent_expected",
    "sf": "silent_effective",
    "sg": "schedule_gap",
    "codes": "recent_codes",
    "hs": "hour_sums",
    "qs": "quarter_sums",
    "fs": "five_sums",
}


def migrate(raw: dict[str, Any]) -> dict[str, Any]:
    """The fields of a stored state in today's names (without the version), whatever
    format version it was written in."""
    if "version" in raw:
        version, data = raw["version"], {k: v for k, v in raw.items() if k != "version"}
    else:
        version, data = raw.get("v"), {k: v for k, v in raw.items() if k != "v"}
    if version == 1:
        data = {_V1_STATE_KEYS.get(k, k): v for k, v in data.items()}
        data["baseline"] = migrate_baseline_v1(data["baseline"])
    elif version != VERSION:
        raise ValueError(f"unknown operation state version {version!r}")
    return data
