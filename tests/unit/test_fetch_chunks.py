"""The ingest's chunks in columns hold exactly what aiokafka's own records would."""

from __future__ import annotations

import struct

from aiokafka.consumer import fetcher
from aiokafka.consumer.fetcher import READ_COMMITTED, FetchResult
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.structs import TopicPartition

from agents import fetch

TP = TopicPartition("calls", 3)


def _batch(base: int, size: int, producer_id: int = -1) -> bytes:
    transactional = int(producer_id >= 0)
    builder = DefaultRecordBatchBuilder(2, 0, transactional, producer_id, 0, 0, 1 << 24)
    for i in range(size):
        key = None if i % 7 == 0 else f"op{i % 5}".encode()
        builder.append(i, 1_700_000_000_000 + base + i, key, f"{base + i}".encode(), [])
    raw = builder.build()
    raw[0:8] = struct.pack(">q", base)
    return bytes(raw)


def _read(
    buffer: bytes, start: int, deserializer: object, aborted: list[tuple[int, int]]
) -> list[object]:
    records = fetch._PartitionRecords(
        TP, MemoryRecords(buffer), aborted, start, None, deserializer, False, READ_COMMITTED
    )
    return list(records)


def test_chunks_hold_every_message_aiokafka_returns_in_order() -> None:
    fetch.install()
    # A batch read from its middle, an aborted transaction's batch, small and large batches.
    buffer = (
        _batch(0, 3000) + _batch(3000, 10, producer_id=7) + _batch(3010, 5) + _batch(3015, 4500)
    )
    aborted = [(7, 3000)]
    expected = _read(buffer, 1234, None, list(aborted))
    chunks = _read(buffer, 1234, fetch.COLUMNS, list(aborted))
    assert all(isinstance(c, fetch.Chunk) and 0 < len(c) <= fetch.CHUNK for c in chunks)
    columns = [
        (o, t, k, v)
        for c in chunks
        for o, t, k, v in zip(c.offsets, c.timestamps, c.keys, c.values, strict=True)
    ]
    assert columns == [(m.offset, m.timestamp, m.key, m.value) for m in expected]
    assert columns[0][0] == 1234
    assert len(columns) == 3000 - 1234 + 5 + 4500
    assert fetcher.PartitionRecords is fetch._PartitionRecords  # What the fetcher builds.


class _Assignment:
    """Just enough of aiokafka's assignment for ``FetchResult.getall``."""

    active = True

    def __init__(self) -> None:
        self.position = 0

    def state_value(self, tp: TopicPartition) -> _Assignment:
        return self

    paused = False

    def consumed_to(self, position: int) -> None:
        self.position = position


def test_a_getmany_cut_short_resumes_after_its_last_chunk() -> None:
    buffer = _batch(0, 3000) + _batch(3000, 3000)
    records = fetch._PartitionRecords(
        TP, MemoryRecords(buffer), None, 0, None, fetch.COLUMNS, False, READ_COMMITTED
    )
    assignment = _Assignment()
    result = FetchResult(TP, assignment=assignment, partition_records=records, backoff=0)
    first = result.getall(max_records=2)
    assert assignment.position == first[-1].last_offset + 1 == 2 * fetch.CHUNK
    rest = result.getall(max_records=10)
    assert [c.offsets[0] for c in rest] == [2 * fetch.CHUNK]
    assert assignment.position == 6000
    assert not result.has_more()
