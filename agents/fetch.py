"""Fetched messages in columns, not one ``ConsumerRecord`` each.

aiokafka turns every message into a ``ConsumerRecord`` (a dataclass, its sizes and
headers copied) through a Python generator: about 1.5 us per message, a quarter of the
ingest's budget at 150,000 events/s. A consumer whose ``value_deserializer`` is
``COLUMNS`` gets instead, from ``getmany``, ``Chunk`` objects of up to ``CHUNK``
messages in columns (offsets, Kafka timestamps, keys, values), taken straight from the
record batches. Everything else aiokafka does per fetch (CRC checks, aborted
transactions skipped in ``read_committed``, control batches, positions) is kept: the
chunk reader follows ``PartitionRecords._unpack_records`` of the pinned aiokafka 0.14,
and every other consumer in the process (Faust's) reads as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from typing import Any

import aiokafka.errors as kafka_errors
from aiokafka.consumer import fetcher

CHUNK = 2000
"""Most messages per chunk; ``getmany(max_records=...)`` counts chunks."""


class _Columns:
    """The marker ``value_deserializer`` (never called: the chunk reader bypasses it)."""

    def __call__(self, value: bytes | None) -> bytes | None:
        return value


COLUMNS = _Columns()


class Chunk:
    """Consecutive messages of one partition, in columns."""

    __slots__ = ("keys", "offsets", "timestamps", "values")

    def __init__(self, rows: list[Any]) -> None:
        self.offsets: list[int] = [r.offset for r in rows]
        self.timestamps: list[int] = [r.timestamp for r in rows]  # Epoch ms; -1 if none.
        self.keys: list[bytes | None] = [r.key for r in rows]
        self.values: list[bytes | None] = [r.value for r in rows]

    def __len__(self) -> int:
        return len(self.offsets)

    @property
    def last_offset(self) -> int:
        return self.offsets[-1]


def max_chunks(records: int) -> int:
    """``getmany``'s ``max_records`` for at most about ``records`` messages."""
    return max(1, -(-records // CHUNK))


class _PartitionRecords(fetcher.PartitionRecords):  # type: ignore[misc]
    next_fetch_offset: int

    def _unpack_records(self) -> Iterator[Any]:
        if self._value_deserializer is COLUMNS:
            return self._chunks()
        return super()._unpack_records()  # type: ignore[no-any-return]

    def _chunks(self) -> Iterator[Chunk]:
        pending: list[Any] = []
        for batch in self._data_batches():
            # The batch is its own iterator and refuses a second iter(): read it by
            # its __next__ (iter() first, which decompresses it).
            rows = iter(iter(batch).__next__, None)
            while got := list(islice(rows, CHUNK - len(pending))):
                if got[0].offset < self.next_fetch_offset:  # A batch read from its middle.
                    got = [r for r in got if r.offset >= self.next_fetch_offset]
                pending += got
                if len(pending) >= CHUNK:
                    yield self._chunk(pending)
                    pending = []
            self.next_fetch_offset = batch.next_offset
        if pending:
            yield self._chunk(pending)

    def _chunk(self, rows: list[Any]) -> Chunk:
        # Where the next fetch starts once this chunk is handed out.
        self.next_fetch_offset = max(self.next_fetch_offset, rows[-1].offset + 1)
        return Chunk(rows)

    def _data_batches(self) -> Iterator[Any]:
        """The record batches holding messages to return, as ``_unpack_records`` finds them."""
        tp = self._tp
        records = self._records
        while records.has_next():
            batch = records.next_batch()
            if self._check_crcs and not batch.validate_crc():
                raise kafka_errors.CorruptRecordException(f"Invalid CRC - {tp}")
            if self._isolation_level == fetcher.READ_COMMITTED and batch.producer_id is not None:
                self._consume_aborted_up_to(batch.base_offset)
                if batch.is_control_batch and self._contains_abort_marker(batch):
                    self._aborted_producers.discard(batch.producer_id)
                if batch.is_transactional and batch.producer_id in self._aborted_producers:
                    self.next_fetch_offset = batch.next_offset
                    continue
            if batch.is_control_batch:
                self.next_fetch_offset = batch.next_offset
                continue
            yield batch


def install() -> None:
    """Let consumers whose ``value_deserializer`` is ``COLUMNS`` read chunks (idempotent;
    other consumers are unaffected)."""
    fetcher.PartitionRecords = _PartitionRecords
