"""The operation log: an immutable record of every failed or retried call (and every
status change), kept in Kafka topics keyed by operation, with payloads in a topic of
their own so they can expire sooner than the metadata.

Pure: building entries from calls, and filtering and paging what was read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any, Self

from pydantic import BaseModel, ConfigDict

from detector.events import UNDER_WAY, OperationCall
from detector.masking import HIDDEN, FieldRules, mask, mask_field
from detector.status import StatusChange

PAGE_SIZE = 50


class LogEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    kind: str  # "call" or "status_change"
    operation: str
    integration: str | None = None
    timestamp: float
    status: str  # A call's outcome; with ``event_id``, the step of the event's lifecycle.
    event_id: str | None = None
    event_type: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    source_record: str | None = None
    destination_record: str | None = None
    duration_ms: float | None = None
    count: int = 1
    # Filled in by the reader: the payload, or whether it expired.
    payload: Any = None
    payload_state: str = "none"  # none | present | expired | unavailable

    def masked(self, rules: FieldRules, *, fields: bool = True, payload: bool = True) -> Self:
        """The entry as it may be shown: personal data in the error message and the
        record ids (``fields``) and in the payload masked, unless ``rules`` reveal them.
        The payload is the costly part: the log masks the other fields of every entry it
        filters, and payloads only of the page it shows."""
        shown = {
            name: mask_field(name, getattr(self, name), rules)
            for name in ("error_message", "source_record", "destination_record")
            if fields and getattr(self, name) is not None
        }
        if payload and self.payload is not None:
            # Payload fields are named from the payload's root (``customer.email``).
            hidden = "payload" in rules.hide
            shown["payload"] = HIDDEN if hidden else mask(self.payload, rules)
        return self.model_copy(update=shown)


def entry_id(source: str, partition: int, offset: int) -> str:
    """Stable per source message: a re-delivered message gives the same entry id."""
    return hashlib.sha256(f"{source}/{partition}/{offset}".encode()).hexdigest()[:24]


def from_call(call: OperationCall, source: str, partition: int, offset: int) -> LogEntry:
    """The entry for one decoded call; ``decode`` has given every call its timestamp."""
    return LogEntry(**entry_fields(call, source, partition, offset))


def entry_fields(call: OperationCall, source: str, partition: int, offset: int) -> dict[str, Any]:
    """Every field of the entry for one decoded call, in ``LogEntry``'s order: their JSON
    is the entry's, byte for byte. The ingest logs every failed call, and building and
    dumping a model took some 6 us each, where these fields, taken from a call already
    validated, need no validation again."""
    if call.timestamp is None:
        raise ValueError("log only decoded calls: this one has no timestamp")
    calls, errors, retries = call.tally()
    status = "error" if errors else "retrying" if retries else "success"
    followed = call.event_id is not None and call.count is None
    if followed or call.status in UNDER_WAY:
        status, calls = call.status or status, 1
    # One entry per status message: an event's steps share its event_id, not the entry id.
    step = f"{call.event_id}/{call.status}/{call.timestamp}" if followed else None
    return {
        "id": entry_id(step, 0, 0) if step else entry_id(source, partition, offset),
        "kind": "call",
        "operation": call.operation,
        "integration": call.integration,
        "timestamp": call.timestamp,
        "status": status,
        "event_id": call.event_id,
        "event_type": call.event_type,
        "error_code": call.error_code,
        "error_message": call.error_message,
        "source_record": call.source_record,
        "destination_record": call.destination_record,
        "duration_ms": call.duration_ms,
        "count": calls,
        "payload": None,
        "payload_state": "present" if call.payload is not None else "none",
    }


def with_payload(entry: LogEntry, payloads: dict[str, Any], expired_before: float) -> LogEntry:
    """Join the entry's payload; a missing one is ``expired`` only if retention explains it.

    A payload absent although the entry is younger than the payload retention was lost or
    is not written yet: saying "expired" then would hide a fault, so it is ``unavailable``.
    """
    if entry.payload_state != "present":
        return entry
    if entry.id in payloads:
        return entry.model_copy(update={"payload": payloads[entry.id]})
    state = "expired" if entry.timestamp < expired_before else "unavailable"
    return entry.model_copy(update={"payload_state": state})


def from_change(change: StatusChange) -> LogEntry:
    return LogEntry(
        id=change.id,
        kind="status_change",
        operation=change.operation,
        integration=change.integration,
        timestamp=change.at.timestamp(),
        status=change.status.value,
        error_message=change.reason,
    )


class FailureGroup(BaseModel):
    """Failures with one error code and message, as error trackers group issues."""

    error_code: str | None
    error_message: str | None
    count: int
    first: float
    last: float
    example: str  # The id of the newest entry, to open.


def groups(entries: Iterable[LogEntry]) -> list[FailureGroup]:
    """The failed calls grouped by error code and message, most frequent first."""
    found: dict[tuple[str | None, str | None], FailureGroup] = {}
    for e in entries:
        if e.kind != "call" or e.status != "error":
            continue
        key = (e.error_code, e.error_message)
        group = found.get(key)
        if group is None:
            found[key] = FailureGroup(
                error_code=e.error_code, error_message=e.error_message, count=e.count,
                first=e.timestamp, last=e.timestamp, example=e.id,
            )  # fmt: skip
            continue
        group.count += e.count
        group.first = min(group.first, e.timestamp)
        if e.timestamp >= group.last:
            group.last, group.example = e.timestamp, e.id
    return sorted(found.values(), key=lambda g: (-g.count, -g.last))
