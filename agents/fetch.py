"""Fetched messages in columns: a batch's offsets, Kafka timestamps, keys and values,
which the ingest decodes and aggregates together rather than a message at a time.

aiokafka turns every message into a ``ConsumerRecord`` (a dataclass, its sizes and
headers copied): about 1 us per message, a sixth of the ingest's budget at 150,000
events/s. A consumer whose ``value_deserializer`` is ``ROWS`` gets instead, from
``getmany``, one plain tuple per message (offset, timestamp, key, value). Only the
record is lighter: aiokafka's own iteration of the record batches is kept as it is
(CRC checks, aborted transactions skipped in ``read_committed``, control batches, and
the positions it moves message by message, which ``getmany`` and a rebalance rely on),
and every other consumer in the process (Faust's) gets its ``ConsumerRecord``s as before.

A reader that iterated the record batches itself was tried and withdrawn (see the
README's throughput section): its chunks moved positions its own way.
"""

from __future__ import annotations

from typing import Any

from aiokafka.consumer import fetcher

# (offset, timestamp in epoch ms or -1, key, value): one message as the ingest reads it.
Row = tuple[int, int, bytes | None, bytes | None]


class _Rows:
    """The marker ``value_deserializer`` (never called: the record is built without it)."""

    def __call__(self, value: bytes | None) -> bytes | None:
        return value


ROWS = _Rows()


class Chunk:
    """Consecutive messages of one partition, in columns."""

    __slots__ = ("keys", "offsets", "timestamps", "values")

    def __init__(self, rows: list[Row]) -> None:
        self.offsets: tuple[int, ...]
        self.timestamps: tuple[int, ...]  # Epoch ms; -1 if none.
        self.keys: tuple[bytes | None, ...]
        self.values: tuple[bytes | None, ...]
        self.offsets, self.timestamps, self.keys, self.values = zip(*rows, strict=True)

    def __len__(self) -> int:
        return len(self.offsets)

    @property
    def last_offset(self) -> int:
        return self.offsets[-1]


class _PartitionRecords(fetcher.PartitionRecords):  # type: ignore[misc]
    def _consumer_record(self, tp: Any, record: Any) -> Any:
        if self._value_deserializer is ROWS:
            return (record.offset, record.timestamp, record.key, record.value)
        return super()._consumer_record(tp, record)


def install() -> None:
    """Let consumers whose ``value_deserializer`` is ``ROWS`` read plain rows (idempotent;
    other consumers are unaffected)."""
    fetcher.PartitionRecords = _PartitionRecords
