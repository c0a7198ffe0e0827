"""Packed table values (format 4): what goes in comes out, the header matches the body,
records written by the previous builds (format 3; format 2, orjson JSON) still decode, and a
corrupt record is a ``ValueError`` (quarantined by the shell), never another error."""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from detector.lifecycle.tracker import Event, Lifecycle
from detector.state import OperationState
from detector.summary import OperationSummary
from detector.windows import OperationWindows, WindowCounts
from tables import counts, inflight, models, packed, summaries

DATA = Path(__file__).parent / "data"


def fixture(name: str) -> bytes:
    """A changelog value as the build before format 3 wrote it (orjson JSON)."""
    return (DATA / f"changelog-v2-{name}.json").read_bytes()


def test_format_2_records_decode_and_repack_to_the_same_values() -> None:
    windows = counts.decode(fixture("window-counts"))
    assert counts.decode(counts.encode(windows)) == windows
    assert counts.where(fixture("window-counts")) == counts.where(counts.encode(windows))
    assert counts.where(counts.encode(windows)) == (3, windows.last_call_at, "web")
    state = models.decode(fixture("operation-models"))
    assert models.decode(models.encode(state)).to_dict() == state.to_dict()
    assert models.judged(models.encode(state)) == (state.last_boundary, 0)
    assert models.judged(fixture("operation-models")) == (state.last_boundary, 0)
    summary = summaries.decode(fixture("operation-summaries"))
    assert summaries.decode(summaries.encode(summary)) == summary
    row = summaries.Row("Shop.Order", summaries.encode(summary))
    assert dict(row) == summary.model_dump(mode="json")
    legacy = summaries.Row("Shop.Order", fixture("operation-summaries"))
    assert dict(legacy) == dict(row)
    life = inflight.decode(fixture("inflight-events"))
    assert inflight.decode(inflight.encode(life)) == life
    event = Event.from_list(inflight.decode(fixture("inflight-event")))
    assert Lifecycle.from_dict(life, [("e1", event.to_list())]).retrying == {"e1": event}


def test_format_3_models_decode_and_repack_smaller() -> None:
    """A model as the build before format 4 packed it (the models' first dictionary)."""
    raw = (DATA / "changelog-v3-operation-models.bin").read_bytes()
    assert raw[0] == 3
    state = models.decode(raw)
    assert state.to_dict() == models.decode(fixture("operation-models")).to_dict()
    assert models.judged(raw) == (state.last_boundary, 0)
    repacked = models.encode(state)
    assert repacked[0] == packed.FORMAT == 4
    assert models.decode(repacked).to_dict() == state.to_dict()
    assert len(repacked) < 0.9 * len(raw)


def test_packed_values_are_much_smaller_than_their_json() -> None:
    for name, layout in (
        ("window-counts", counts.LAYOUT),
        ("operation-models", models.LAYOUT),
        ("operation-summaries", summaries.LAYOUT),
    ):
        raw = fixture(name)
        assert len(packed.pack(layout, orjson.loads(raw))) < len(raw) / 2, name


def test_the_header_agrees_with_the_body() -> None:
    summary = summaries.decode(fixture("operation-summaries"))
    summary.error_ratio_now = None
    fields, integration = packed.head(summaries.LAYOUT, summaries.encode(summary))
    code, calls, expected, now, normal = fields
    assert packed.STATUSES[code] == summary.status.value
    assert integration == summary.integration
    assert calls == summary.calls_last_hour
    assert packed.number(expected) == summary.expected_last_hour
    assert math.isnan(now)
    assert normal == summary.error_ratio_normal
    windows = counts.decode(fixture("window-counts"))
    fields, _ = packed.head(counts.LAYOUT, counts.encode(windows))
    assert fields[2:] == tuple(
        sum(getattr(w, kind) for w in windows.windows.values())
        for kind in ("calls", "errors", "retries")
    )


counts_strategy = st.builds(
    OperationWindows,
    st.integers(0, 10_000),
    st.none() | st.text(max_size=40),
    st.dictionaries(
        st.integers(0, 2**40).map(lambda s: s * 60),
        st.builds(
            WindowCounts,
            st.integers(0, 2**62),
            st.integers(0, 2**62),
            st.integers(0, 2**62),
            st.dictionaries(st.text(max_size=10), st.integers(0, 2**62), max_size=9),
        ),
        max_size=5,
    ),
    st.none() | st.floats(0, 2e9),
    st.dictionaries(st.integers(0, 100), st.integers(0, 2**62), max_size=3),
)


@given(counts_strategy)
def test_any_window_counts_round_trip(windows: OperationWindows) -> None:
    raw = counts.encode(windows)
    assert counts.decode(raw) == windows
    where = (windows.partition, windows.last_call_at, windows.integration or None)
    assert counts.where(raw) == where


@given(st.binary(max_size=200))
def test_any_bytes_decode_or_fail_with_a_value_error(raw: bytes) -> None:
    for layout in (counts.LAYOUT, models.LAYOUT, summaries.LAYOUT, packed.INFLIGHT_EVENTS):
        for read in (packed.unpack, packed.head):
            with contextlib.suppress(ValueError):
                read(layout, raw)


@pytest.mark.parametrize("cut", [1, 5, 30, -3])
def test_truncated_and_foreign_records_are_value_errors(cut: int) -> None:
    state: Any = OperationState("web", 60, 60)
    raw = models.encode(state)
    with pytest.raises(ValueError, match=r"corrupt|format|expected|unexpected|JSON|char"):
        models.decode(raw[:cut])
    with pytest.raises(ValueError, match="format"):
        packed.unpack(models.LAYOUT, b"\x07" + raw[1:])
    with pytest.raises(ValueError, match="expected a packed record"):
        packed.head(models.LAYOUT, None)


def test_a_summary_row_that_cannot_be_read_has_no_status() -> None:
    row = summaries.Row("Broken.Op", b"\x03\x00")
    assert row.get("status") is None
    assert row.get("operation") == "Broken.Op"
    summary = OperationSummary(operation="Ok.Op", integration=None)
    assert summaries.Row("Ok.Op", summaries.encode(summary))["status"] == "learning"
