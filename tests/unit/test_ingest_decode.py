"""A batch of raw records splits into counts, dead letters and re-keys, losing nothing."""

from __future__ import annotations

import orjson
from hypothesis import example, given, settings
from hypothesis import strategies as st

from detector.errors import DecodeError
from detector.events import Limits, decode
from detector.ingest import RawRecord, Records, Shapes, decode_batch, load_values
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
    assert out.partitions == {"A": {2}}
    assert len(out.failures) == 3
    windows = aggregate(out.batch, 60)["A"]
    # The pre-aggregated record has no timestamp: it falls in the Kafka timestamp's window.
    assert windows[60].to_list() == [3, 1, 1, {"E1": 1}]
    assert windows[960].to_list() == [5, 2, 0, {"unknown": 2}]


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
    assert aggregate(out.batch, 60)["A"][60].to_list() == [1_000_000, 7, 0, {"unknown": 7}]


_ANY = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=5),
)
_BARE_CALL = st.fixed_dictionaries(
    {},
    optional={
        "operation": st.one_of(st.sampled_from(["A", "B.c", "", "x" * 201]), _ANY),
        "integration": st.one_of(st.sampled_from(["web", None]), _ANY),
        "status": st.one_of(st.sampled_from(["ok", "ERROR", " retry ", "nope"]), _ANY),
        "count": st.one_of(st.integers(-1, 5), _ANY),
        "errors": st.one_of(st.integers(-1, 5), _ANY),
        "timestamp": st.one_of(
            st.sampled_from([60, 1.5e12, "2026-11-24T10:15:00Z", "2026-11-24T10:15:00", 5e9]),
            _ANY,
        ),
    },
)


@settings(max_examples=400, deadline=None)
@given(_BARE_CALL, st.one_of(st.none(), st.floats(0, 2e9)))
def test_the_fast_path_agrees_with_the_contracts_decoder(
    value: dict[str, object], kafka_ts: float | None
) -> None:
    """Bare calls take a remembered-verdict path; it must accept, refuse and count exactly
    as ``decode`` does, for any field types (1, 1.0 and True are equal dict keys)."""
    record = RawRecord(None, orjson.dumps(value), 0, 0, kafka_ts)
    limits = Limits(max_count=4)
    out = decode_batch([record], limits, check_keys=False, shapes=Shapes(limits))
    try:
        call = decode(record.value, kafka_ts, limits)
    except DecodeError as exc:
        refused = exc.reason
    else:
        refused = None
    if refused is not None:
        assert [e.reason for _, e in out.invalid] == [refused]
        assert len(out.batch) == 0
        return
    assert not out.invalid
    assert out.batch.names == [call.operation]
    assert out.batch.timestamps == [call.timestamp]
    calls, errors, retries = call.tally()
    assert (out.batch.calls, out.batch.errors, out.batch.retries) == ([calls], [errors], [retries])
    assert out.batch.integrations == {call.operation: call.integration}


def test_a_remembered_shape_still_takes_each_records_own_timestamp() -> None:
    shapes = Shapes()
    records = [rec({"operation": "A", "status": "ok", "timestamp": t}) for t in (60, "bad", 900)]
    out = decode_batch(records, shapes=shapes)
    assert out.batch.timestamps == [60.0, 900.0]
    assert [e.reason for _, e in out.invalid] == ["invalid"]
    assert len(shapes.verdicts) == 1


def test_names_with_control_or_bidi_characters_are_dead_lettered_in_batches() -> None:
    bad = ["Web\x1b[2JForm", "Pay\u202eroF", "Nul\x00"]
    records = [rec({"operation": n, "status": "ok", "timestamp": 60}, key=n) for n in bad]
    records.append(rec({"operation": "A", "integration": "\u2067x", "status": "ok"}))
    records.append(rec({"operation": "A", "status": "ok", "timestamp": 60}))
    out = decode_batch(records)
    assert [e.reason for _, e in out.invalid] == ["invalid_name"] * 4
    assert out.batch.names == ["A"]


def test_records_in_columns_decode_as_records_and_drop_by_key() -> None:
    """The ingest hands columns, not an object per record: the same batch either way, and
    the records of refused keys come back whole for their dead letters."""
    raws = [
        rec({"operation": op, "status": "error" if i % 3 else "ok", "timestamp": 60 + i}, op, i)
        for i, op in enumerate(["A", "B", "A", "C", "B"])
    ]
    columns = Records.of(raws)
    assert [columns.record(i) for i in range(len(columns))] == raws
    assert decode_batch(columns).batch == decode_batch(raws).batch
    kept, dropped = columns.without({b"B"})
    assert dropped == [raws[1], raws[4]]
    assert [kept.record(i) for i in range(len(kept))] == [raws[0], raws[2], raws[3]]
    assert columns.without({b"Z"}) == (columns, [])


def _alone(value: bytes | None) -> object:
    try:
        return orjson.loads(value or b"null")
    except orjson.JSONDecodeError:
        return None


_FRAGMENT = st.one_of(
    st.none(),
    st.sampled_from([b"", b"1,2", b"[3", b"4]", b'"a', b'b"', b'{"k":[', b"]}", b"{}", b" "]),
    st.builds(orjson.dumps, _ANY),
    st.binary(max_size=6),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_FRAGMENT, max_size=12))
@example([b"1,2", b"1,2", b"[3", b"4]"])  # As many elements as values and separators.
def test_values_decoded_together_are_each_values_own_json(values: list[bytes | None]) -> None:
    """One orjson call for many values: a value that is not one JSON document (``1,2``,
    or ``[3`` with ``4]`` after it) must not shift or merge its neighbours."""
    assert load_values(values) == [_alone(v) for v in values]
