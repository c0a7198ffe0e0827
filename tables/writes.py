"""Writing a table key with an explicit partition.

Faust picks a table key's changelog partition from the event being processed, and refuses
writes outside per-event iteration: batched agents (``take_events``) and timers have no
current event (faust-streaming issue #497). Our tables are keyed by operation, like the
source topic, so the partition is known: the one the operation's events arrive on.

Each key written is noted with its partition in Faust's memory store, as the store
notes the keys it restores from a changelog: once a rebalance's recovery completes, the
store forgets the keys of partitions no longer assigned, but only the keys it noted. A
worker would otherwise keep, list on /metrics and judge operations whose partitions
went to another worker. Nothing is forgotten at a revocation: partitions a worker keeps
are not read back from their changelog.
"""

from __future__ import annotations

from typing import Any

# Changelog records Faust's producer may hold unsent before writers wait (``drain``).
PENDING_MOST = 2_000


def put(table: Any, partition: int, key: str, value: Any, send: bool = True) -> Any:
    """Set ``table[key] = value`` and send it to changelog ``partition``; the returned
    future is done once the broker has the record. Not ``send``: in memory only, until
    a later put sends it (the changelog keeps the value before)."""
    table.data[key] = value
    partitions = _partitions(table)
    if partitions is not None:
        partitions[key] = partition
    return table.send_changelog(partition, key, value) if send else None


def delete(table: Any, partition: int, key: str) -> Any:
    """Drop ``table[key]`` and send a tombstone to changelog ``partition`` (compaction
    then removes the key from the changelog too); the future is done once the broker
    has it."""
    table.data.pop(key, None)
    partitions = _partitions(table)
    if partitions is not None:
        partitions.pop(key, None)
    return table.send_changelog(partition, key, None, value_serializer="raw")


async def drain(app: Any, most: int = PENDING_MOST) -> None:
    """Wait while Faust's producer holds more than ``most`` records not yet handed to
    Kafka. Table writes only queue a record, and the producer sends them one at a time:
    a writer faster than that (the evaluator over 100,000 operations) grew the queue
    by gigabytes; waiting here holds it to a bound instead."""
    buffer = app.producer.buffer
    while buffer.size > most and buffer.state == "running":
        await buffer.flush_atmost(buffer.size - most)


def _partitions(table: Any) -> dict[str, int] | None:
    """The memory store's key -> partition map (``faust.stores.memory.Store``); None for
    a store without one (RocksDB keeps each partition apart by itself)."""
    partitions: dict[str, int] | None = getattr(table.data, "_key_partition", None)
    return partitions
