"""The event contract: what is accepted, how it is counted, and every way it is refused."""

from __future__ import annotations

import orjson
import pytest

from detector.errors import DecodeError
from detector.events import Limits, decode

TS = "2026-03-03T10:15:00Z"
EPOCH = 1772532900.0  # TS in epoch seconds


def msg(**fields: object) -> bytes:
    return orjson.dumps(fields)


@pytest.mark.parametrize(
    ("status", "tally"),
    [
        ("success", (1, 0, 0)),
        ("ok", (1, 0, 0)),
        ("Delivered", (1, 0, 0)),
        ("error", (1, 1, 0)),
        ("failed", (1, 1, 0)),
        ("FAILURE", (1, 1, 0)),
        ("retrying", (1, 0, 1)),
        ("received", (0, 0, 0)),
        ("Processing", (0, 0, 0)),
    ],
)
def test_status_and_aliases(status: str, tally: tuple[int, int, int]) -> None:
    call = decode(msg(operation="Website.Subscribe", status=status, timestamp=TS))
    assert call.tally() == tally
    assert call.timestamp == EPOCH


@pytest.mark.parametrize("ts", [TS, EPOCH, int(EPOCH * 1000), "2026-03-03T13:15:00+03:00"])
def test_timestamp_forms(ts: object) -> None:
    assert decode(msg(operation="A", status="ok", timestamp=ts)).timestamp == EPOCH


def test_missing_timestamp_falls_back_to_the_kafka_timestamp() -> None:
    assert decode(msg(operation="A", status="ok"), fallback_timestamp=123.5).timestamp == 123.5


@pytest.mark.parametrize(
    ("fields", "tally"),
    [
        ({"count": 10, "errors": 3}, (10, 3, 0)),
        ({"count": 10}, (10, 0, 0)),
        ({"count": 4, "status": "error"}, (4, 4, 0)),
        ({"count": 4, "status": "retrying"}, (4, 0, 4)),
        ({"count": 5, "errors": 0, "status": "error"}, (5, 0, 0)),
    ],
)
def test_pre_aggregated(fields: dict[str, object], tally: tuple[int, int, int]) -> None:
    assert decode(msg(operation="A", timestamp=TS, **fields)).tally() == tally


def test_optional_fields_and_numeric_ids_are_kept() -> None:
    call = decode(
        msg(
            operation="Pos.Sale",
            status="error",
            timestamp=TS,
            integration="pos",
            error_code=401,
            source_record=77,
            payload={"sku": "yogurt"},
            duration_ms=12.5,
        )
    )
    assert (call.integration, call.error_code, call.source_record) == ("pos", "401", "77")
    assert call.payload == {"sku": "yogurt"}


def test_lifecycle_fields_are_kept() -> None:
    raw = msg(operation="Crm.Sync", status="processing", timestamp=TS, event_id=42,
              event_type="contact.updated")  # fmt: skip
    call = decode(raw)
    assert (call.status, call.event_id, call.event_type) == ("processing", "42", "contact.updated")


@pytest.mark.parametrize(
    ("raw", "reason", "mentions"),
    [
        (b"", "empty", "no value"),
        (None, "empty", "no value"),
        (b"{not json", "not_json", "not JSON"),
        (b"[1, 2]", "not_object", "list"),
        (msg(status="ok", timestamp=TS), "invalid", "operation"),
        (msg(operation="", status="ok", timestamp=TS), "invalid", "operation"),
        (msg(operation="A", status="maybe", timestamp=TS), "invalid", "status"),
        (msg(operation="A", timestamp=TS), "invalid", "status is required"),
        (msg(operation="A", timestamp="yesterday", status="ok"), "invalid", "timestamp"),
        (msg(operation="A", timestamp="2026-03-03T10:00:00", status="ok"), "invalid", "zone"),
        (msg(operation="A", timestamp=True, status="ok"), "invalid", "timestamp"),
        (msg(operation="A", timestamp=TS, count=0), "invalid", "count"),
        (msg(operation="A", timestamp=TS, count=2, errors=3), "invalid", "more than count"),
        (msg(operation="A", timestamp=TS, status="ok", errors=1), "invalid", "only allowed"),
        (msg(operation="A", status="ok"), "no_timestamp", "timestamp"),
        (msg(operation="A", timestamp=TS, count=3, status="received"), "invalid", "outcomes"),
    ],
)
def test_invalid_messages_name_their_reason(raw: bytes | None, reason: str, mentions: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode(raw)
    assert info.value.reason == reason
    assert mentions in str(info.value)


def test_event_time_far_after_the_kafka_timestamp_is_refused() -> None:
    """A producer with a clock a day ahead must not make every window until then silent."""
    raw = msg(operation="A", status="ok", timestamp=EPOCH + 86400)
    with pytest.raises(DecodeError) as info:
        decode(raw, fallback_timestamp=EPOCH)
    assert info.value.reason == "future_timestamp"
    assert (
        decode(msg(operation="A", status="ok", timestamp=EPOCH + 60), EPOCH).timestamp == EPOCH + 60
    )


def test_a_count_above_the_limit_is_refused_naming_field_and_limit() -> None:
    """Ten records of 10^18 calls once overflowed the aggregation and crash-looped the worker."""
    raw = msg(operation="A", timestamp=TS, count=10**18, errors=1)
    with pytest.raises(DecodeError) as info:
        decode(raw)
    assert info.value.reason == "count_too_large"
    assert "count" in info.value.detail
    assert "1000000" in info.value.detail
    small = Limits(max_count=10)
    assert decode(msg(operation="A", timestamp=TS, count=10), limits=small).tally() == (10, 0, 0)
    with pytest.raises(DecodeError, match="count_too_large"):
        decode(msg(operation="A", timestamp=TS, count=11), limits=small)


@pytest.mark.parametrize("errors", [-1, 10**18, 11])
def test_errors_are_bounded_by_count(errors: int) -> None:
    with pytest.raises(DecodeError) as info:
        decode(msg(operation="A", timestamp=TS, count=10, errors=errors))
    assert info.value.reason == "invalid"
    assert "errors" in info.value.detail


@pytest.mark.parametrize(
    ("name", "mentions"),
    [
        ("Web\x00Form", "U+0000"),
        ("Web\x1b[31mForm", "U+001B"),
        ("Web\nForm", "U+000A"),
        ("Web\x7fForm", "U+007F"),
        ("Web\x9bForm", "U+009B"),  # C1 control sequence introducer.
        ("Invoice\u202egnp.exe", "U+202E"),  # Right-to-left override.
        ("Web\u2066Form\u2069", "U+2066"),  # Left-to-right isolate.
        ("Web\u200bForm", "U+200B"),  # Zero-width space.
        ("Web\u2028Form", "U+2028"),  # Line separator.
        ("x" * 201, "201 characters"),
    ],
)
@pytest.mark.parametrize("field", ["operation", "integration"])
def test_names_must_be_bounded_printable_text(field: str, name: str, mentions: str) -> None:
    fields = {"operation": "A", "status": "ok", "timestamp": TS, field: name}
    with pytest.raises(DecodeError) as info:
        decode(msg(**fields))
    assert info.value.reason == "invalid_name"
    assert info.value.detail.startswith(f"{field}: ")
    assert mentions in info.value.detail
    assert name not in info.value.detail  # The header never carries the raw name.


@pytest.mark.parametrize(
    "name",
    ["Café.Kasse", "Shop.🛒.Checkout", "Website Subscribe", "東京.注文", "a\u00a0b", "x" * 200],
)
def test_printable_names_in_any_script_are_accepted(name: str) -> None:
    assert (
        decode(msg(operation=name, integration=name, status="ok", timestamp=TS)).operation == name
    )


def test_the_name_length_limit_is_a_setting() -> None:
    short = Limits(max_name_length=5)
    assert decode(msg(operation="Abcde", status="ok", timestamp=TS), limits=short).operation
    with pytest.raises(DecodeError, match="invalid_name"):
        decode(msg(operation="Abcdef", status="ok", timestamp=TS), limits=short)
