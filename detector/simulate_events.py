"""Lifecycle traffic: events with an ``event_id`` sending every status of their life,
for the simulator, the quality bench and the tests.

Each event is received, processing a second later and delivered a few seconds after;
about 2% retry first and are delivered within minutes, 0.5% fail. Incidents: ``stuck``
(events from then on stop after ``processing``) and ``retry_forever`` (the destination
is down: every event retries until the incident ends, then fails). The number of events
per minute follows the operation's profile (``detector.simulate``); the same seed always
gives the same traffic.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from detector.simulate import DAY, PLAIN, Profile, Realism, _rng, minute_rates
from detector.status import Status

LifecycleKind = Literal["stuck", "retry_forever"]
LIFECYCLE_KINDS: tuple[LifecycleKind, ...] = ("stuck", "retry_forever")
TYPES = ("contact.created", "contact.updated", "deal.updated")
FAILURES = (("422", "missing required field email"), ("409", "duplicate record"))
RETRY_EVERY = 120  # Seconds between the retries of an event whose destination is down.


@dataclass(frozen=True)
class LifecycleIncident:
    operation: str
    kind: LifecycleKind
    start: int
    end: int

    @property
    def expected(self) -> set[Status]:
        return {Status.SOME_PROBLEMS, Status.MANY_PROBLEMS}


# Operations whose producers send every status of each event (``detector simulate --lifecycle``).
LIFECYCLE_PROFILES = [
    Profile("Crm.ContactSync", "crm", 3000, "daytime", 0.0),
    Profile("Shop.OrderSync", "shop", 400, "daytime", 0.0),
]


@dataclass(frozen=True)
class Mix:
    """How an operation's events end: shares that retry first, and that fail."""

    retry: float = 0.02
    fail: float = 0.005


def lifecycle_events(
    profiles: list[Profile],
    incidents: list[LifecycleIncident],
    start: int,
    end: int,
    *,
    seed: int = 1,
    mix: Mix = Mix(),
    realism: Realism = PLAIN,
) -> Iterator[dict[str, Any]]:
    """Every status message of the events first seen in [start, end), in time order
    (messages after ``end`` of events begun before it included)."""
    streams = [_operation(p, incidents, start, end, seed, mix, realism) for p in profiles]
    yield from (message for _, _, message in heapq.merge(*streams, key=lambda m: m[:2]))


def _operation(
    profile: Profile,
    incidents: list[LifecycleIncident],
    start: int,
    end: int,
    seed: int,
    mix: Mix,
    realism: Realism,
) -> Iterator[tuple[float, int, dict[str, Any]]]:
    """(timestamp, sequence, message) of one operation, in order."""
    pending: list[tuple[float, int, dict[str, Any]]] = []
    seq = 0
    own = [i for i in incidents if i.operation == profile.operation]
    for day_start in range(start - start % DAY, end, DAY):
        rng = _rng(seed, profile.operation, day_start, "lifecycle")
        rates, _ = minute_rates(profile, day_start, seed, 0, realism)
        counts = rng.poisson(rates)
        for minute in np.flatnonzero(counts):
            minute_start = day_start + int(minute) * 60
            if not start <= minute_start < end:
                continue
            while pending and pending[0][0] < minute_start:
                yield heapq.heappop(pending)
            for i in range(int(counts[minute])):
                first = minute_start + float(rng.uniform(0, 60))
                event_id = f"{profile.operation}-{minute_start}-{i}"
                for ts, message in _life(profile, own, event_id, first, rng, mix):
                    seq += 1
                    heapq.heappush(pending, (round(ts, 3), seq, message))
    while pending:
        yield heapq.heappop(pending)


def _life(
    profile: Profile,
    incidents: list[LifecycleIncident],
    event_id: str,
    first: float,
    rng: np.random.Generator,
    mix: Mix,
) -> list[tuple[float, dict[str, Any]]]:
    base = {
        "operation": profile.operation,
        "integration": profile.integration,
        "event_id": event_id,
        "event_type": TYPES[int(rng.integers(len(TYPES)))],
        "source_record": f"src-{int(rng.integers(1_000_000))}",
    }

    def at(ts: float, status: str, **extra: Any) -> tuple[float, dict[str, Any]]:
        return ts, {**base, "timestamp": round(ts, 3), "status": status, **extra}

    life = [at(first, "received"), at(first + 1, "processing")]
    incident = next((i for i in incidents if i.start <= first < i.end), None)
    done = first + 1 + float(rng.lognormal(1.0, 0.6))
    if incident is not None and incident.kind == "stuck":
        return life
    if incident is not None:  # retry_forever: down until the incident ends, then failed.
        down = {"error_code": "503", "error_message": "destination unavailable"}
        retries = np.arange(first + 2, incident.end, RETRY_EVERY)
        life += [at(float(ts), "retrying", **down) for ts in retries]
        return [*life, at(max(first + 3, incident.end), "failed", **down)]
    draw = float(rng.random())
    if draw < mix.retry:
        life.append(at(first + 2, "retrying", error_code="timeout", error_message="timed out"))
        done = first + 2 + float(rng.uniform(30, 300))
    elif draw < mix.retry + mix.fail:
        code, message = FAILURES[int(rng.integers(len(FAILURES)))]
        return [*life, at(done, "failed", error_code=code, error_message=message)]
    return [*life, at(done, "delivered", destination_record=f"dst-{event_id[-12:]}")]


class Due:
    """Messages of a stream handed out as their time comes (live simulation)."""

    def __init__(self, stream: Iterator[dict[str, Any]]) -> None:
        self._stream = stream
        self._next = next(stream, None)

    def until(self, ts: float) -> list[dict[str, Any]]:
        """Every message before ``ts`` not handed out yet."""
        out = []
        while self._next is not None and self._next["timestamp"] < ts:
            out.append(self._next)
            self._next = next(self._stream, None)
        return out
