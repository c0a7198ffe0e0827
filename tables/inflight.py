"""Events in flight, one key per event, and the rest of each operation's lifecycle: the
``inflight-events`` table.

An event's key is ``operation`` + ``\x1f`` + ``event_id``, written to the partition of
the operation's events, so an operation's events live in its partition and one event's
change is one small changelog record. A finished event is deleted (a tombstone), so
compaction keeps the changelog as small as what is in flight. The key ``operation``
alone holds the rest of its lifecycle (durations learned, runs of errors, snapshots):
one table, one changelog topic.
"""

from __future__ import annotations

from typing import Any

from tables import codec, packed

NAME = "inflight-events"
SEPARATOR = "\x1f"


def event_key(operation: str, event_id: str) -> str:
    return f"{operation}{SEPARATOR}{event_id}"


def declare(app: Any, partitions: int) -> Any:
    return codec.keyed_table(
        app,
        NAME,
        partitions,
        "Events not finished yet (detector.lifecycle.tracker.Event) and, under the "
        "operation's own key, the rest of its lifecycle.",
        packed=True,
    )


def encode(value: Any) -> bytes:
    return packed.pack(packed.INFLIGHT_EVENTS, value)


def decode(raw: bytes) -> Any:
    return packed.unpack(packed.INFLIGHT_EVENTS, raw)
