"""Writing a table key with an explicit partition.

Faust picks a table key's changelog partition from the event being processed, and refuses
writes outside per-event iteration: batched agents (``take_events``) and timers have no
current event (faust-streaming issue #497). Our tables are keyed by operation, like the
source topic, so the partition is known: the one the operation's events arrive on.
"""

from __future__ import annotations

from typing import Any


def put(table: Any, partition: int, key: str, value: Any) -> Any:
    """Set ``table[key] = value`` and send it to changelog ``partition``; the returned
    future is done once the broker has the record."""
    table.data[key] = value
    return table.send_changelog(partition, key, value)


def delete(table: Any, partition: int, key: str) -> Any:
    """Drop ``table[key]`` and send a tombstone to changelog ``partition`` (compaction
    then removes the key from the changelog too); the future is done once the broker
    has it."""
    table.data.pop(key, None)
    return table.send_changelog(partition, key, None, value_serializer="raw")
