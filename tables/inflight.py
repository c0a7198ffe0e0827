"""Events in flight, one key per event: the ``inflight-events`` table.

Keyed ``operation`` + ``\\x1f`` + ``event_id`` and written to the partition of the
operation's events, so an operation's events live in its partition and one event's
change is one small changelog record. A finished event is deleted (a tombstone), so
compaction keeps the changelog as small as what is in flight. The per-operation rest of
the lifecycle (durations learned, runs of errors, snapshots) is in
``operation-lifecycles``, keyed by operation.
"""

from __future__ import annotations

from typing import Any

from tables import codec

NAME = "inflight-events"
LIFECYCLES = "operation-lifecycles"
SEPARATOR = "\x1f"


def event_key(operation: str, event_id: str) -> str:
    return f"{operation}{SEPARATOR}{event_id}"


def declare(app: Any, partitions: int) -> tuple[Any, Any]:
    """(the events table, the per-operation lifecycle table)."""
    events = codec.keyed_table(
        app, NAME, partitions, "Events not finished yet (detector.lifecycle.tracker.Event)."
    )
    lifecycles = codec.keyed_table(
        app, LIFECYCLES, partitions, "Per-operation lifecycle state (detector.lifecycle)."
    )
    return events, lifecycles
