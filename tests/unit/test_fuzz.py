"""Hostile input, single or in any sequence, never crashes or stalls the decoder, the
batch aggregation or the engine: every record is decoded or refused with a reason, the
sums are exact, and the engine judges any sequence of windows in bounded time."""

from __future__ import annotations

import time
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detector.engine import Engine
from detector.errors import DecodeError
from detector.events import decode
from detector.ingest import RawRecord, decode_batch
from detector.opconfig import DetectionConfig
from detector.state import OperationState
from detector.windows import WindowCounts, aggregate

NOW = 1_800_000_000
REASONS = {
    "empty",
    "not_json",
    "not_object",
    "invalid",
    "invalid_name",
    "count_too_large",
    "no_timestamp",
    "future_timestamp",
}
HOSTILE_NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, -1, 10**18, 2**63, 1e308, NOW, NOW * 1000]),
)
HOSTILE_TEXT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", "\x00", "\x1b[2J", "\u202egnp.exe", "x" * 300, "Web.Form"]),
)
VALUES = st.one_of(st.none(), st.booleans(), HOSTILE_NUMBERS, HOSTILE_TEXT)
RECORDS = st.fixed_dictionaries(
    {},
    optional={
        "operation": st.one_of(HOSTILE_TEXT, VALUES),
        "integration": st.one_of(HOSTILE_TEXT, VALUES),
        "status": st.one_of(st.sampled_from(["ok", "error", "retrying", "received"]), VALUES),
        "timestamp": st.one_of(HOSTILE_NUMBERS, HOSTILE_TEXT),
        "count": HOSTILE_NUMBERS,
        "errors": HOSTILE_NUMBERS,
        "event_id": VALUES,
    },
)


def _bytes(record: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(record)
    except (TypeError, orjson.JSONEncodeError):  # NaN and huge ints: send them as text.
        return repr(record).encode()


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=200), RECORDS.map(_bytes)))
def test_the_decoder_decodes_or_refuses_with_a_reason(raw: bytes) -> None:
    reason = None
    try:
        call = decode(raw, NOW)
    except DecodeError as exc:
        reason = exc.reason
    if reason is not None:
        assert reason in REASONS
        return
    assert call.timestamp is not None
    calls, errors, retries = call.tally()
    assert 0 <= errors <= calls <= 1_000_000
    assert 0 <= retries <= calls


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(RECORDS.map(_bytes), max_size=40))
def test_a_batch_of_anything_is_counted_exactly_or_dead_lettered(raws: list[bytes]) -> None:
    records = [RawRecord(b"Web.Form", raw, 0, i, NOW) for i, raw in enumerate(raws)]
    out = decode_batch(records)
    assert len(out.batch) + len(out.invalid) + len(out.misrouted) == len(records)
    sums = [w for windows in aggregate(out.batch, 60).values() for w in windows.values()]
    assert sum(w.calls for w in sums) == sum(out.batch.calls)
    assert all(w.calls >= 0 and w.errors >= 0 for w in sums)


WINDOWS = st.dictionaries(
    st.one_of(
        st.sampled_from([0, 60, NOW - 86400 * 365, NOW]),
        st.integers(0, NOW).map(lambda t: t // 60 * 60),
    ),
    st.tuples(st.integers(0, 10**9), st.integers(0, 10**9), st.integers(0, 10**9)).map(
        lambda t: WindowCounts(t[0], min(t[1], t[0]), min(t[2], t[0]))
    ),
    max_size=6,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(WINDOWS, st.integers(0, NOW + 3600)), min_size=1, max_size=5))
def test_the_engine_judges_any_sequence_in_bounded_time(
    steps: list[tuple[dict[int, WindowCounts], int]],
) -> None:
    engine = Engine(DetectionConfig())
    state: OperationState | None = None
    for windows, until in steps:
        until = until // 60 * 60
        started = time.perf_counter()
        state, _ = engine.advance(state, "Op", None, windows, until)
        # At most a week of window steps per call, whatever the gap (~0.1 s quiet).
        assert time.perf_counter() - started < 5.0
        if state is not None:
            restored = OperationState.from_dict(orjson.loads(orjson.dumps(state.to_dict())))
            assert restored.last_boundary == state.last_boundary
