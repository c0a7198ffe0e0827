"""An operation's events in flight, and the counts their status messages stand for.

An event with an ``event_id`` is one call, counted when it is first seen; its failure is
counted when it fails, or when it is still retrying after the retry horizon (then it
counts as failed at that moment and a late outcome counts nothing). Events without an
``event_id``, and pre-aggregated records, keep the per-message meaning.

At every window boundary ``b`` (once every event before ``b`` was seen, and none after)
the tracker takes a ``Snapshot``: retries given up in the window, events stuck at ``b``.
The engine judges that window with it, so a live worker and a replay that see the same
events in the same order take the same snapshots, however their batches fall.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from detector import wording
from detector.events import OperationCall
from detector.lifecycle import records
from detector.lifecycle.durations import Durations
from detector.lifecycle.history import FailureDays, Streak, extend, recurring
from detector.opconfig import Rule
from detector.windows import window_start

OPEN = ("received", "processing")
FORGET_AFTER = 86400  # Events open, and outcomes given up on, are forgotten after a day.
MIN_STREAK = 3  # Failures in a row with one error before the run is evidence.
LOOKBACK = 900  # Given-up retries are weighed against the outcomes of the last 15 min.
RECENT = 3600


@dataclass(frozen=True, slots=True)
class Policy:
    """What the tracker needs from the configuration, for one operation."""

    window: int = 60
    cap: int = 100_000  # Most events in flight; more are counted in ``overflow``.
    retry_horizon: int = 900
    stuck_after: int | None = None  # None: learned from the operation's durations.
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))

    @classmethod
    def of(cls, rule: Rule, window: int, zone: ZoneInfo, cap: int = 100_000) -> Policy:
        return cls(window, cap, rule.retry_horizon, rule.stuck_after, zone)


class Step(NamedTuple):
    """What one status message of a followed event says."""

    status: str | None
    event_type: str | None = None
    code: str | None = None
    message: str | None = None
    duration_ms: float | None = None

    def to_list(self) -> list[Any]:
        return list(self)


@dataclass(slots=True)
class Event:
    """One event in flight: its phase, when it was first seen, and since when it is in
    its phase (a retrying event: since its first retry)."""

    phase: str
    first: float
    since: float
    event_type: str | None = None
    code: str | None = None
    message: str | None = None

    def to_list(self) -> list[Any]:
        return [self.phase, self.first, self.since, self.event_type, self.code, self.message]

    @classmethod
    def from_list(cls, raw: list[Any]) -> Event:
        return cls(*raw)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The lifecycle at one window boundary, as the engine judges that window."""

    gave_up: int = 0  # Events given up on in the window: failures.
    codes: dict[str, int] = field(default_factory=dict)
    stuck: int = 0
    stuck_phase: str = "processing"
    oldest: float = 0.0
    threshold: int = 0
    recent: int = 0  # Events first seen in the threshold before the stuck cutoff...
    recent_stuck: int = 0  # ... and how many of them are stuck.
    retries: str | None = None  # "31 events retrying for more than 15 min: 503 …"
    retried_out: int = 0  # Events given up on in the last ``LOOKBACK``...
    finished: int = 0  # ... and events with an outcome in it.
    streak: Streak | None = None
    recurring: str | None = None

    def to_list(self) -> list[Any]:
        streak = self.streak.to_list() if self.streak else None
        return [self.gave_up, self.codes, self.stuck, self.stuck_phase, self.oldest,
                self.threshold, self.recent, self.recent_stuck, self.retries,
                self.retried_out, self.finished, streak, self.recurring]  # fmt: skip

    @classmethod
    def from_list(cls, raw: list[Any]) -> Snapshot:
        *head, streak, note = raw
        gave_up, codes, stuck, phase, oldest, threshold, recent, recent_stuck, *rest = head
        retries, retried_out, finished = rest
        return cls(
            gave_up, dict(codes), stuck, phase, oldest, threshold, recent, recent_stuck,
            retries, retried_out, finished, Streak.from_list(streak) if streak else None, note,
        )  # fmt: skip


@dataclass(slots=True)
class Lifecycle:
    open: dict[str, Event] = field(default_factory=dict)  # Oldest phase start first.
    retrying: dict[str, Event] = field(default_factory=dict)  # Oldest first retry first.
    given_up: dict[str, Event] = field(default_factory=dict)
    durations: Durations = field(default_factory=Durations)
    streak: Streak | None = None
    days: FailureDays = field(default_factory=FailureDays)
    arrivals: dict[int, int] = field(default_factory=dict)  # Window start -> events first seen.
    # Window start -> [given up, {code: n}, example "code message"], for the last hour.
    gave_up: dict[int, list[Any]] = field(default_factory=dict)
    finished: dict[int, int] = field(default_factory=dict)  # Window start -> outcomes.
    overflow: int = 0  # Events not followed because the operation was at its cap.
    forgotten: int = 0  # Events open for a day without news, dropped.
    checked: int | None = None  # Snapshots are taken up to this boundary.
    note: str | None = None  # Recurring failures, refreshed hourly.
    # Boundary -> snapshot, kept an hour after it is judged: a worker that stopped before
    # its judgement was stored judges the window again with the same snapshot.
    pending: dict[int, Snapshot] = field(default_factory=dict)
    # Calls-topic offsets (source partition -> last offset) of the ingest batches applied,
    # and what the last of them counted (window start -> counts): a batch handed over
    # again after a crash is applied once (``detector.lifecycle.batch.apply_once``).
    applied: dict[int, int] = field(default_factory=dict)
    last: list[Any] = field(default_factory=list)  # [sources, [[start, *counts], ...]]
    saves: int = 0  # Times stored: event records ahead of it are undone (``records``).
    # Events changed since the last ``drain`` (None: gone), for the shell's table.
    changed: dict[str, Event | None] | None = None

    @property
    def in_flight(self) -> int:
        return len(self.open) + len(self.retrying)

    def stuck_after(self, policy: Policy) -> int:
        """Seconds in received or processing after which an event is stuck, now."""
        return self.durations.stuck_after(policy.stuck_after)

    def observe(self, call: OperationCall, policy: Policy) -> tuple[int, int, int]:
        """Take one status message in; the (calls, errors, retries) it adds to its window."""
        ts = call.timestamp
        assert ts is not None, "events are decoded with a timestamp"
        if call.event_id is None or call.count is not None:
            calls, errors, retries = call.tally()
            self.count(ts, calls, errors, retries, call.error_code, call.error_message, policy)
            return calls, errors, retries
        step = Step(call.status, call.event_type, call.error_code, call.error_message,
                    call.duration_ms)  # fmt: skip
        return self.follow(call.event_id, ts, step, policy)

    def count(
        self, ts: float, calls: int, errors: int, retries: int, code: str | None,
        message: str | None, policy: Policy,
    ) -> None:  # fmt: skip
        """Take in a record that is not followed (no ``event_id``, or pre-aggregated):
        its counts stand as they are; its failures are evidence."""
        self._enter(ts, policy)
        self._outcome(ts, errors, calls > errors + retries, code, message, policy)

    def _enter(self, ts: float, policy: Policy) -> None:
        """Event time reaches ``ts``: the boundaries before its window are complete."""
        start = window_start(ts, policy.window)
        if self.checked is None:
            self.checked = start
        elif start > self.checked:
            self._take(start, policy)

    def close(self, until: int, policy: Policy) -> dict[int, Snapshot]:
        """Take the snapshots of every boundary up to ``until``; the ones not judged yet."""
        self._take(until, policy)
        return self._due(until)

    def _take(self, until: int, policy: Policy) -> None:
        """Take the snapshots of every boundary up to ``until``: what ``close`` lists (a
        record entering its window needs them taken, not listed)."""
        if self.checked is None or until <= self.checked:
            return
        window = policy.window
        if self._quiet():
            # Most windows of most operations: nothing to say, only the hourly chores.
            # Those depend on the failure days (unchanged here) and prune by the newest
            # hour, so past the first hour only the last one can change anything: a gap
            # of months (or a call stamped 1970) costs two chores, not one an hour.
            hours = range(self.checked // 3600 * 3600 + 3600, until + 1, 3600)
            for hour in hours if len(hours) <= 2 else (hours[0], hours[-1]):
                boundary = self.checked + -((self.checked - hour) // window) * window
                if boundary > until:
                    break
                self._hourly(boundary)
                if not self._quiet():
                    self.checked = boundary - window
                    self._take(until, policy)
                    return
            self.checked = until
            return
        for boundary in range(self.checked + window, until + 1, window):
            if boundary // 3600 != (boundary - window) // 3600:
                self._hourly(boundary)
            if self._quiet():
                if until - boundary > 3600:  # A long quiet stretch: by the hour (above).
                    self.checked = boundary
                    self._take(until, policy)
                    return
                continue  # Most windows of most operations: nothing to say.
            snap = self._snapshot(boundary, policy)
            if snap is not None:
                self.pending[boundary] = snap
        self.checked = until

    def _due(self, until: int) -> dict[int, Snapshot]:
        if not self.pending:
            return {}
        return {b: s for b, s in self.pending.items() if b <= until}

    def _quiet(self) -> bool:
        return not (
            self.open
            or self.retrying
            or self.gave_up
            or self.note
            or (self.streak is not None and self.streak.count >= MIN_STREAK)
        )

    def judged(self, boundary: int) -> None:
        """The engine judged every window up to ``boundary``: their snapshots can go once
        an hour old (until its state is stored, the worker may judge them again)."""
        if not self.pending:
            return
        for b in [b for b in self.pending if b <= boundary - RECENT]:
            del self.pending[b]

    def drain(self) -> dict[str, Event | None]:
        changed, self.changed = self.changed or {}, {}
        return changed

    def follow(self, event_id: str, ts: float, call: Step, policy: Policy) -> tuple[int, int, int]:
        """Take one status message of a followed event in; the (calls, errors, retries)
        it adds to its window."""
        self._enter(ts, policy)
        status = call.status
        event = self.open.get(event_id) or self.retrying.get(event_id)
        if event is None and event_id in self.given_up:
            # The outcome of an event already counted as failed: it counts nothing more.
            if status in ("success", "error"):
                self._set(event_id, None, None)
            return 0, 0, 0
        new = event is None
        if status in ("success", "error"):
            failed = int(status == "error")
            start = window_start(ts, policy.window)
            self.finished[start] = self.finished.get(start, 0) + 1
            if event is not None:
                self._set(event_id, None, None)
                self.durations.add(max(0.0, ts - event.first))
            elif call.duration_ms is not None:
                self.durations.add(call.duration_ms / 1000)
            self._outcome(ts, failed, not failed, call.code, call.message, policy)
            return int(new), failed, 0
        if event is None:
            if self.in_flight >= policy.cap:
                self.overflow += 1  # Counted at its outcome instead, as an event never seen.
                return 0, 0, 0
            event = Event("new", ts, ts, call.event_type)
            start = window_start(ts, policy.window)
            self.arrivals[start] = self.arrivals.get(start, 0) + 1
        elif call.event_type is not None:
            event.event_type = call.event_type
        if status == "retrying" or event.phase == "retrying":
            # A retrying event stays retrying (its attempts included) until its outcome;
            # its horizon runs from the first retry.
            first_retry = event.phase != "retrying"
            if status == "retrying":
                event.code, event.message = call.code, _short(call.message)
            if first_retry:
                event.phase, event.since = "retrying", ts
                self._set(event_id, event, self.retrying)
            else:
                self._note(event_id, event)
            return int(new), 0, int(first_retry)
        if event.phase != status:
            # A new phase starts: the event moves last, keeping the dict in phase order.
            event.phase, event.since = status or "received", ts
            self._set(event_id, event, self.open)
        else:
            self._note(event_id, event)
        return int(new), 0, 0

    def _set(self, event_id: str, event: Event | None, into: dict[str, Event] | None) -> None:
        """Put an event (last) into one of the dicts, or drop it; note it for the shell."""
        for place in (self.open, self.retrying, self.given_up):
            if place is not into:
                place.pop(event_id, None)
        if into is not None and event is not None:
            into.pop(event_id, None)
            into[event_id] = event
        self._note(event_id, event)

    def _note(self, event_id: str, event: Event | None) -> None:
        if self.changed is not None:
            self.changed[event_id] = event

    def _outcome(
        self, ts: float, failures: int, succeeded: bool, code: str | None,
        message: str | None, policy: Policy,
    ) -> None:  # fmt: skip
        """Outcomes known at ``ts``: failures extend the run of one error, a success ends it."""
        if failures:
            self.days.add(ts, failures, policy.zone)
            self.streak = extend(self.streak, code or "unknown", _short(message) or "", ts)
        elif succeeded:
            self.streak = None

    def _snapshot(self, boundary: int, policy: Policy) -> Snapshot | None:
        gave_up, codes = self._give_up(boundary, policy)
        threshold = self.stuck_after(policy)
        cutoff = boundary - threshold
        stuck = recent_stuck = 0
        phases: set[str] = set()
        oldest = 0.0
        for event in self.open.values():
            if event.since >= cutoff:
                break  # Ordered by phase start (events arrive about in time order).
            stuck += 1
            phases.add(event.phase)
            oldest = oldest or event.since
            recent_stuck += event.first >= cutoff - threshold
        recent = sum(n for s, n in self.arrivals.items() if cutoff - threshold <= s < cutoff)
        retries, retried_out, finished = self._retries(boundary, policy)
        run = self.streak
        streak = run if run is not None and run.count >= MIN_STREAK else None
        if not (gave_up or stuck or retries or streak or self.note):
            return None
        return Snapshot(
            gave_up, codes, stuck, " or ".join(sorted(phases)) or "processing", oldest,
            threshold, max(recent, recent_stuck), recent_stuck, retries, retried_out, finished,
            None if streak is None else Streak(*streak.to_list()), self.note,
        )  # fmt: skip

    def _give_up(self, boundary: int, policy: Policy) -> tuple[int, dict[str, int]]:
        """Events retrying past the horizon before ``boundary`` fail, at that moment."""
        n, codes = 0, dict[str, int]()
        start = boundary - policy.window
        while self.retrying:
            event_id, event = next(iter(self.retrying.items()))
            at = event.since + policy.retry_horizon
            if at >= boundary:
                break
            code = event.code or "unknown"
            codes[code] = codes.get(code, 0) + 1
            n += 1
            self._outcome(at, 1, False, code, event.message, policy)
            self._set(event_id, Event("gave_up", event.first, at, event.event_type, code,
                                      event.message), self.given_up)  # fmt: skip
            if len(self.given_up) > policy.cap:
                self._set(next(iter(self.given_up)), None, None)
            slot = self.gave_up.setdefault(start, [0, {}, ""])
            slot[0] += 1
            slot[1][code] = slot[1].get(code, 0) + 1
            slot[2] = f"{code} {event.message or ''}".strip()
        return n, codes

    def _hourly(self, boundary: int) -> None:
        """Refresh the time-of-day pattern; forget what is too old to matter."""
        self.note = recurring(self.days)
        horizon = boundary - FORGET_AFTER
        for place in (self.open, self.given_up):
            while place and next(iter(place.values())).since < horizon:
                self._set(next(iter(place)), None, None)
                self.forgotten += place is self.open
        keep = boundary - 3 * RECENT  # Arrivals for the longest stuck lookback (15 min + 1 h).
        for book in (self.arrivals, self.gave_up, self.finished):
            for s in [s for s in book if s < keep]:
                del book[s]

    def _retries(self, boundary: int, policy: Policy) -> tuple[str | None, int, int]:
        """Events given up on in the last ``LOOKBACK``, in words; their number; and the
        number of events with an outcome then."""
        if not self.gave_up:
            return None, 0, 0
        since = boundary - LOOKBACK
        recent = [v for s, v in self.gave_up.items() if s >= since]
        n = sum(v[0] for v in recent)
        if not n:
            return None, 0, 0
        finished = sum(k for s, k in self.finished.items() if s >= since)
        events = "event" if n == 1 else "events"
        horizon = wording.duration(policy.retry_horizon)
        return f"{n} {events} retrying for more than {horizon}: {recent[-1][2]}", n, finished

    def to_dict(self) -> dict[str, Any]:
        """Everything but the events themselves, which the shell keeps one per key."""
        return {
            "d": self.durations.to_list(),
            "s": None if self.streak is None else self.streak.to_list(),
            "f": self.days.to_dict(),
            "a": self.arrivals,
            "g": self.gave_up,
            "e": self.finished,
            "o": self.overflow,
            "x": self.forgotten,
            "c": self.checked,
            "n": self.note,
            "p": {b: s.to_list() for b, s in self.pending.items()},
            "ap": [[p, o] for p, o in self.applied.items()],
            "l": self.last,
            "v": self.saves,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any], events: list[tuple[str, list[Any]]]) -> Lifecycle:
        self = cls(
            durations=Durations.from_list(raw["d"]),
            streak=Streak.from_list(raw["s"]) if raw["s"] else None,
            days=FailureDays.from_dict(raw["f"]),
            arrivals={int(s): n for s, n in raw["a"].items()},
            gave_up={int(s): v for s, v in raw["g"].items()},
            finished={int(s): n for s, n in raw["e"].items()},
            overflow=raw["o"],
            forgotten=raw["x"],
            checked=raw["c"],
            note=raw["n"],
            pending={int(b): Snapshot.from_list(s) for b, s in raw["p"].items()},
            applied={int(p): int(o) for p, o in raw.get("ap", [])},
            last=list(raw.get("l", [])),
            saves=int(raw.get("v", 0)),
        )
        return self.take(events)

    def take(self, events: list[tuple[str, list[Any]]]) -> Lifecycle:
        """Put the table's event records in place as of this lifecycle's saves. Those to
        write again are noted as changed: records ahead of it (undone here, and on the
        broker once written again) and finished events whose deletion was not sent."""
        self.changed = {}
        restored: list[tuple[str, Event]] = []
        for event_id, raw in events:
            value = records.value(raw, self.saves)
            event = None if value is None else Event.from_list(value)
            if event is not None:
                restored.append((event_id, event))
            if event is None or records.ahead(raw, self.saves):
                self.changed[event_id] = event
        homes = {"retrying": self.retrying, "gave_up": self.given_up}
        for event_id, event in sorted(restored, key=lambda kv: (kv[1].since, kv[0])):
            homes.get(event.phase, self.open)[event_id] = event
        return self


def _short(message: str | None) -> str | None:
    return None if message is None else message[:200]
