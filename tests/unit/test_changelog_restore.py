"""Changelog records restored into a table: whatever their bytes, the table's codec never
raises (Faust's recovery would wait forever for the record), and a record unfit for the
table is kept out of it and reported, the rest applied in order."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from faust.serializers import codecs
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter

from agents.quarantine import Quarantine
from tables import codec, counts, summaries

CHECKED = codecs.get_codec(codec.CHECKED)
JSON = codecs.get_codec("json")
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_writes_the_bytes_faust_json_writes(value: Any) -> None:
    """Compaction matches keys by their bytes: the keys written before stay the same."""
    assert CHECKED.dumps(value) == JSON.dumps(value)
    assert CHECKED.loads(CHECKED.dumps(value)) == value


@given(st.binary(max_size=64))
def test_reading_any_bytes_never_raises(raw: bytes) -> None:
    try:
        expected = JSON.loads(raw)
    except Exception:
        decoded = CHECKED.loads(raw)
        assert isinstance(decoded, codec.Undecodable)
        assert decoded.raw == raw
    else:
        assert CHECKED.loads(raw) == expected


def event(raw_key: bytes, raw_value: bytes | None) -> Any:
    message = SimpleNamespace(key=raw_key, value=raw_value, partition=0)
    value = None if raw_value is None else CHECKED.loads(raw_value)
    return SimpleNamespace(key=CHECKED.loads(raw_key), value=value, message=message)


def restore(table: Any, records: list[tuple[bytes, bytes | None]]) -> list[tuple[str, str, str]]:
    reported: list[tuple[str, str, str]] = []
    table.on_bad_record = lambda *args: reported.append(args)
    table.apply_changelog_batch([event(k, v) for k, v in records])
    return reported


def test_unfit_records_are_kept_out_and_reported_the_rest_applied_in_order() -> None:
    table = counts.declare(faust.App("restore-test"), 1)
    reported = restore(
        table,
        [
            (b'"A"', b'{"n": 1}'),
            (b'"B"', b'{"n": 1}'),
            (b"\xff\xfe", b'{"n": 2}'),  # Not UTF-8.
            (b"{not json", b'{"n": 3}'),
            (b"123", b'{"n": 4}'),  # JSON, not a string.
            (b"null", b'{"n": 5}'),
            (b'"A"', b"\xff not json"),  # A's newest record: A is absent.
            (b'"B"', b'{"n": 6}'),
            (b'"C"', b"not json"),
            (b'"C"', b'{"n": 7}'),  # C's newest record is fine.
            (b'"D"', b'{"n": 8}'),
            (b'"D"', None),  # A tombstone still deletes.
        ],
    )
    assert dict(table.data) == {"B": {"n": 6}, "C": {"n": 7}}
    assert [(t, key) for t, key, _ in reported] == [
        ("window-counts", r"b'\xff\xfe'"),
        ("window-counts", "b'{not json'"),
        ("window-counts", "b'123'"),
        ("window-counts", "b'null'"),
        ("window-counts", "'A'"),
        ("window-counts", "'C'"),
    ]
    assert "not a string: a int" in reported[2][2]
    assert "not JSON" in reported[4][2]


def test_a_global_table_is_checked_too() -> None:
    table = summaries.declare(faust.App("restore-test-global"), 1)
    assert table.is_global
    reported = restore(table, [(b"[1, 2]", b"{}"), (b'"A"', b"{}")])
    assert dict(table.data) == {"A": {}}
    assert len(reported) == 1


def test_the_worker_counts_each_and_logs_it_once_with_what_to_do(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = CollectorRegistry()
    quarantine = Quarantine(Counter("q", "quarantined", ("table",), registry=registry))
    with caplog.at_level(logging.ERROR):
        for _ in range(3):  # The same record restored again (a rebalance) is not news.
            quarantine.restored("window-counts", "b'{x'", "the key is not a string: …")
        quarantine.restored("window-counts", "b'{y'", "the key is not a string: …")
    assert registry.get_sample_value("q_total", {"table": "window-counts"}) == 2
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert "b'{x'" in lines[0]
    assert "tombstone" in lines[0]
