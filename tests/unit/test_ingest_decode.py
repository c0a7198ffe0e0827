"""A batch of raw records splits into counts, dead letters and re-keys, losing nothing."""

from __future__ import annotations

import orjson

from detector.ingest import RawRecord, decode_batch
from detector.windows import aggregate


def rec(
    value: object, key: str | None = "A", offset: int = 0, raw: bytes | None = None
) -> RawRecord:
    body = raw if raw is not None else orjson.dumps(value)
    return RawRecord(key.encode() if key else None, body, 2, offset, 1000.0)


def test_every_record_lands_somewhere() -> None:
    records = [
        rec({"operation": "A", "status": "ok", "timestamp": 60}),
        rec({"operation": "A", "status": "error", "error_code": "E1", "timestamp": 61}),
        rec({"operation": "A", "status": "retrying", "timestamp": 62}),
        rec(None, raw=b"garbage", offset=3),
        rec({"operation": "B", "status": "ok", "timestamp": 62}, key="A", offset=4),
        rec({"operation": "A", "count": 5, "errors": 2}, offset=5),
    ]
    out = decode_batch(records)
    assert len(out.batch) == 4
    assert [(r.offset, e.reason) for r, e in out.invalid] == [(3, "not_json")]
    assert [(r.offset, op) for r, op in out.misrouted] == [(4, "B")]
    assert out.partitions == {"A": 2}
    assert len(out.failures) == 3
    windows = aggregate(out.batch, 60)
    # The pre-aggregated record has no timestamp: it falls in the Kafka timestamp's window.
    assert windows[("A", 60)].to_list() == [3, 1, 1, {"E1": 1}]
    assert windows[("A", 960)].to_list() == [5, 2, 0, {"unknown": 2}]


def test_unkeyed_records_are_misrouted_not_counted() -> None:
    out = decode_batch([rec({"operation": "A", "status": "ok", "timestamp": 60}, key=None)])
    assert len(out.batch) == 0
    assert len(out.misrouted) == 1


def test_oversized_counts_are_dead_lettered_and_the_rest_counted_exactly() -> None:
    huge = [rec({"operation": "A", "count": 10**18, "timestamp": 60}, offset=i) for i in range(10)]
    fine = [rec({"operation": "A", "count": 1_000_000, "errors": 7, "timestamp": 61}, offset=10)]
    out = decode_batch(huge + fine)
    assert [(r.offset, e.reason) for r, e in out.invalid] == [
        (i, "count_too_large") for i in range(10)
    ]
    assert aggregate(out.batch, 60)[("A", 60)].to_list() == [1_000_000, 7, 0, {"unknown": 7}]
