"""What a service reports, batched for ``operation-calls``: pure, bounded, time a parameter.

Successes are counted per operation, integration and second and leave as one
pre-aggregated record (``{"count": n}``): a busy service sends one message per operation
per second, not one per call. Failures and retries leave one by one with their evidence
(the operation log keeps them), and so does a success with an ``event_id`` (the worker
follows an event's lifecycle by it, so it must not be folded into a count). Everything
pending is bounded (groups of successes, bytes of serialized records): when Kafka is
away, what does not fit is dropped and counted by reason, and the caller is never
blocked nor raised at.

Used by the producer library (``agents.producer``) and by HTTP ingest (``agents.web``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from detector.events import name_problem

# The contract's limits (detector.events.OperationCall): longer text is cut to fit, so a
# report is never dead-lettered for a long message; a name is never cut (an operation or
# integration name the worker would refuse is counted as invalid here).
# Without a payload a record stays far below ``max_record_bytes``.
MAX_NAME = 200
_TEXT_LIMITS = {
    "event_id": 200,
    "error_code": 200,
    "error_message": 10_000,
    "source_record": 500,
    "destination_record": 500,
}
_DUMP_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY

DROP_REASONS = ("buffer_full", "invalid", "rejected", "closed")


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One Kafka message: key = operation, value = the JSON record, ``calls`` it stands for."""

    key: bytes
    value: bytes
    calls: int


@dataclass(slots=True)
class Counters:
    """What happened to reported calls; ``reported = sent + pending + sum(dropped)``."""

    reported: int = 0
    sent: int = 0
    dropped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DROP_REASONS, 0))
    payloads_omitted: int = 0  # Failures kept without a payload over the size limit.

    def snapshot(self) -> Counters:
        return Counters(self.reported, self.sent, dict(self.dropped), self.payloads_omitted)


class ReportBuffer:
    """Pending successes (grouped) and serialized records, within fixed bounds.

    Not thread-safe on its own: the shell holds a lock around each call (each is short).
    """

    def __init__(
        self,
        *,
        max_groups: int = 10_000,
        max_bytes: int = 8 * 1024 * 1024,
        max_record_bytes: int = 64 * 1024,
    ) -> None:
        self.max_groups = max_groups
        self.max_bytes = max_bytes
        self.max_record_bytes = max_record_bytes
        self.counters = Counters()
        self._groups: dict[tuple[str, str | None, int], int] = {}
        self._records: deque[Outgoing] = deque()
        self._bytes = 0
        self._group_calls = 0

    @property
    def pending_calls(self) -> int:
        return self._group_calls + sum(item.calls for item in self._records)

    @property
    def pending_bytes(self) -> int:
        """Bytes of serialized records waiting (success groups are counted apart)."""
        return self._bytes

    @property
    def pending_groups(self) -> int:
        return len(self._groups)

    def __bool__(self) -> bool:
        return bool(self._groups or self._records)

    def report(
        self,
        operation: Any,
        *,
        ok: bool,
        at: float,
        retrying: bool = False,
        integration: str | None = None,
        **evidence: Any,
    ) -> bool:
        """One call; False if it was dropped (and counted). Never raises for bad input."""
        self.counters.reported += 1
        if not _valid_name(operation) or not (integration is None or _valid_name(integration)):
            self.counters.dropped["invalid"] += 1
            return False
        if at <= 0:
            self.counters.dropped["invalid"] += 1
            return False
        success = ok and not retrying
        if success and evidence.get("event_id") is None:
            return self._success(operation, integration, at, 1)
        if success:  # Followed by its event_id (lifecycle); a success's payload is not kept.
            evidence.pop("payload", None)
        record: dict[str, Any] = {
            "operation": operation,
            "status": "success" if success else "retrying" if retrying else "error",
            "timestamp": at,
        }
        for name, value in (("integration", integration), *evidence.items()):
            if value is not None:
                record[name] = _text(name, value) if name in _TEXT_LIMITS else value
        value = self._dump(record)
        if value is None:
            self.counters.dropped["invalid"] += 1
            return False
        return self._add(Outgoing(operation.encode(), value, 1))

    def add_success(self, operation: str, integration: str | None, at: float, calls: int) -> bool:
        """``calls`` already-validated successes (HTTP ingest groups a request's records)."""
        self.counters.reported += calls
        return self._success(operation, integration, at, calls)

    def add_record(self, item: Outgoing) -> bool:
        """A record already serialized and validated, sent as it is."""
        self.counters.reported += item.calls
        return self._add(item)

    def drain(self, now: float, *, limit: int, final: bool = False) -> list[Outgoing]:
        """Up to ``limit`` messages to send now: records first, then the success groups of
        seconds that are over (all of them when ``final``, e.g. on flush or close)."""
        out: list[Outgoing] = []
        while self._records and len(out) < limit:
            item = self._records.popleft()
            self._bytes -= len(item.value)
            out.append(item)
        before = int(now)
        for key in list(self._groups):
            if len(out) >= limit:
                break
            operation, integration, second = key
            if second >= before and not final:
                continue
            calls = self._groups.pop(key)
            self._group_calls -= calls
            record: dict[str, Any] = {"operation": operation, "timestamp": second, "count": calls}
            if integration is not None:
                record["integration"] = integration
            out.append(Outgoing(operation.encode(), orjson.dumps(record), calls))
        return out

    def requeue(self, items: Iterable[Outgoing]) -> None:
        """Put back what could not be sent (Kafka away), oldest first, within the bounds."""
        for item in reversed(list(items)):
            if self._bytes + len(item.value) > self.max_bytes:
                self.counters.dropped["buffer_full"] += item.calls
                continue
            self._records.appendleft(item)
            self._bytes += len(item.value)

    def delivered(self, items: Iterable[Outgoing]) -> None:
        self.counters.sent += sum(item.calls for item in items)

    def drop(self, items: Iterable[Outgoing], reason: str) -> None:
        self.counters.dropped[reason] += sum(item.calls for item in items)

    def drop_pending(self, reason: str) -> int:
        """Give up on everything waiting (close timed out); returns the calls dropped."""
        calls = self.pending_calls
        self.counters.dropped[reason] += calls
        self._groups.clear()
        self._records.clear()
        self._bytes = self._group_calls = 0
        return calls

    def _success(self, operation: str, integration: str | None, at: float, calls: int) -> bool:
        key = (operation, integration, int(at))
        if key not in self._groups and len(self._groups) >= self.max_groups:
            self.counters.dropped["buffer_full"] += calls
            return False
        self._groups[key] = self._groups.get(key, 0) + calls
        self._group_calls += calls
        return True

    def _add(self, item: Outgoing) -> bool:
        if self._bytes + len(item.value) > self.max_bytes:
            self.counters.dropped["buffer_full"] += item.calls
            return False
        self._records.append(item)
        self._bytes += len(item.value)
        return True

    def _dump(self, record: dict[str, Any]) -> bytes | None:
        """JSON of a failure; a payload that makes it longer than ``max_record_bytes`` (or
        that cannot be serialized) is left out and counted, the failure is kept."""
        value = _dumps(record)
        if value is not None and len(value) <= self.max_record_bytes:
            return value
        if "payload" not in record:
            return None
        self.counters.payloads_omitted += 1
        del record["payload"]
        return _dumps(record)


def _dumps(record: dict[str, Any]) -> bytes | None:
    try:
        return orjson.dumps(record, default=str, option=_DUMP_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError is one: e.g. an integer over 64 bits.
        return None


def _valid_name(name: Any) -> bool:
    """An operation or integration name the worker accepts (printable, not too long)."""
    return isinstance(name, str) and bool(name) and name_problem(name, MAX_NAME) is None


def _text(name: str, value: Any) -> Any:
    """Ids and codes as text (numbers are common), cut to the contract's limit."""
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text[: _TEXT_LIMITS[name]]
