"""The ingest's rows hold what aiokafka's own records would, and ``getmany`` moves the
positions exactly as it does with them: only the record is lighter."""

from __future__ import annotations

import struct

import pytest
from aiokafka.consumer import fetcher
from aiokafka.consumer.fetcher import READ_COMMITTED, FetchResult, PartitionRecords
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
        stamp = -1 if i % 11 == 0 else 1_700_000_000_000 + base + i
        builder.append(i, stamp, key, f"{base + i}".encode(), [])
    raw = builder.build()
    raw[0:8] = struct.pack(">q", base)
    return bytes(raw)


# A batch read from its middle, an aborted transaction's batch, small and large batches.
BUFFER = _batch(0, 3000) + _batch(3000, 10, producer_id=7) + _batch(3010, 5) + _batch(3015, 4500)
ABORTED = [(7, 3000)]
START = 1234


class _Assignment:
    """Just enough of aiokafka's assignment for ``FetchResult.getall``."""

    active = True
    paused = False

    def __init__(self) -> None:
        self.position = START

    def state_value(self, tp: TopicPartition) -> _Assignment:
        return self

    def consumed_to(self, position: int) -> None:
        self.position = position


def _read(records_class: type, deserializer: object, sizes: list[int]) -> tuple[list, list[int]]:
    """Every message, read by ``getall`` calls of ``sizes`` at most; the positions after each."""
    records = records_class(
        TP, MemoryRecords(BUFFER), list(ABORTED), START, None, deserializer, False, READ_COMMITTED
    )
    assignment = _Assignment()
    result = FetchResult(TP, assignment=assignment, partition_records=records, backoff=0)
    got, positions = [], []
    for size in sizes:
        if not result.has_more():  # As the fetcher: an exhausted result is dropped.
            break
        got += result.getall(max_records=size)
        positions.append(assignment.position)
    return got, positions


@pytest.mark.parametrize("sizes", [[100_000], [1, 765, 1000, 4000, 50_000], [2000] * 6])
def test_rows_and_positions_are_aiokafkas_own(sizes: list[int]) -> None:
    expected, expected_positions = _read(PartitionRecords, None, sizes)
    rows, positions = _read(fetch._PartitionRecords, fetch.ROWS, sizes)
    assert rows == [(m.offset, m.timestamp, m.key, m.value) for m in expected]
    assert positions == expected_positions
    assert len(rows) == 3000 - START + 5 + 4500
    chunk = fetch.Chunk(rows)
    assert (chunk.offsets[0], chunk.last_offset, len(chunk)) == (START, 3015 + 4499, len(rows))
    assert chunk.keys[1] == rows[1][2]
    assert chunk.timestamps[2] == rows[2][1]


def test_other_consumers_get_their_records_as_before() -> None:
    fetch.install()
    assert fetcher.PartitionRecords is fetch._PartitionRecords  # What the fetcher builds.
    records, _ = _read(fetch._PartitionRecords, None, [100_000])
    expected, _ = _read(PartitionRecords, None, [100_000])
    assert records == expected
