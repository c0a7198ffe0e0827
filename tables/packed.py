"""Per-operation table values as compact bytes, in memory and in the changelogs.

Held decoded, an operation's values cost about 25 KiB of Python objects (every float a
24-byte object, every list and dict its own); at 100,000 operations that is gigabytes.
Packed, a value is one ``bytes``: a format byte, a small fixed header with the fields
read for every operation on every scrape, listing and evaluation (``struct``: no
decoding), the operation's integration, and the whole value as orjson deflated with a
preset dictionary of the table's field names and texts (``tables.dictionaries``),
inflated only when the value itself is needed (judging, a dashboard row).

Format 4 is this one. Format 3 differs only in the models' dictionary (it predates most
of the detection state's fields: 18% larger); its records, and those of format 2 (orjson
JSON, what builds up to 0.x wrote: it starts with ``{`` or ``[``), still decode, so a
changelog written by an earlier build recovers and is rewritten in format 4 as its
operations are next stored.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from detector import stored
from detector.state import migrate
from tables import dictionaries

FORMAT = 4
_MAGIC = FORMAT.to_bytes(1, "big")
_FORMAT_3 = 3
_JSON = frozenset(b"{[")  # The first byte of a format-2 (orjson JSON) record.
_LEVEL = 6  # Deflate level: 1 is barely faster on records this small, and larger.
_TEXT = struct.Struct("<H")
# Statuses by their header code: frozen with the format (append, never reorder).
STATUSES = ("learning", "ok", "some_problems", "many_problems", "no_calls")
_STATUS_CODE = {s: i for i, s in enumerate(STATUSES)}


@dataclass(frozen=True, slots=True)
class Layout:
    """How one table packs its values: the header read without inflating, and the
    dictionary the bodies are deflated with."""

    header: struct.Struct
    fields: Callable[[Any], tuple[Any, ...]]  # The header fields of a decoded value.
    text: Callable[[Any], str | None]  # The integration, after the header.
    zdict: bytes
    check: Callable[[tuple[Any, ...]], None] = lambda _: None  # A restored header's range.
    zdict_3: bytes | None = None  # Format 3's dictionary, where it differs.


def pack(layout: Layout, value: Any) -> bytes:
    body = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    deflate = zlib.compressobj(_LEVEL, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, layout.zdict)
    text = (layout.text(value) or "").encode()
    header = layout.header.pack(*layout.fields(value)) + _TEXT.pack(len(text))
    return b"".join((_MAGIC, header, text, deflate.compress(body), deflate.flush()))


def unpack(layout: Layout, raw: Any) -> Any:
    """The stored value (JSON-like) of a packed or format-2 record; ``ValueError`` for
    anything else."""
    if type(raw) is not bytes or not raw:
        raise ValueError(f"expected a packed record, got {type(raw).__name__}")
    if raw[0] in _JSON:
        return orjson.loads(raw)
    start = _body(layout, raw)
    zdict = layout.zdict_3 if raw[0] == _FORMAT_3 and layout.zdict_3 else layout.zdict
    inflate = zlib.decompressobj(-15, zdict)
    try:
        body = inflate.decompress(raw[start:]) + inflate.flush()
    except zlib.error as exc:
        raise ValueError(f"corrupt packed record: {exc}") from None
    return orjson.loads(body)


def head(layout: Layout, raw: Any) -> tuple[tuple[Any, ...], str | None]:
    """The header fields and the integration, read without inflating the body."""
    if type(raw) is not bytes or not raw:
        raise ValueError(f"expected a packed record, got {type(raw).__name__}")
    if raw[0] in _JSON:
        value = orjson.loads(raw)
        fields = layout.fields(value)
        text = layout.text(value)
    else:
        start = _body(layout, raw)
        try:
            fields = layout.header.unpack_from(raw, 1)
            length: int = _TEXT.unpack_from(raw, 1 + layout.header.size)[0]
            text = raw[start - length : start].decode() or None
        except (struct.error, UnicodeDecodeError) as exc:
            raise ValueError(f"corrupt packed record header: {exc}") from None
    layout.check(fields)
    return fields, text


def _body(layout: Layout, raw: bytes) -> int:
    if raw[0] not in (FORMAT, _FORMAT_3):
        raise ValueError(f"unknown packed record format {raw[0]}")
    at = 1 + layout.header.size
    try:
        length: int = _TEXT.unpack_from(raw, at)[0]
    except struct.error as exc:
        raise ValueError(f"corrupt packed record header: {exc}") from None
    return at + _TEXT.size + length


def _nan(value: float | None) -> float:
    return math.nan if value is None else value


def number(value: float) -> float | None:
    """A float header field: NaN stands for None."""
    return None if math.isnan(value) else value


def _window_fields(value: Any) -> tuple[Any, ...]:
    calls = errors = retries = 0
    for w in stored.mapping(value, "window counts")["w"].values():
        calls, errors, retries = calls + w[0], errors + w[1], retries + w[2]
    top = stored.MAX_STORED  # Sums of valid windows can pass int64; the header saturates.
    return value["p"], _nan(value.get("t")), min(calls, top), min(errors, top), min(retries, top)


def _counts(fields: tuple[Any, ...]) -> None:
    names = ("partition", "calls", "errors", "retries")
    for name, n in zip(names, (fields[0], *fields[2:]), strict=True):
        stored.count(n, f"window counts {name}")


def _summary_fields(value: Any) -> tuple[Any, ...]:
    return (
        _STATUS_CODE[value["status"]],
        value["calls_last_hour"],
        _nan(value.get("expected_last_hour")),
        _nan(value.get("error_ratio_now")),
        _nan(value.get("error_ratio_normal")),
    )


def _summary_check(fields: tuple[Any, ...]) -> None:
    if not 0 <= fields[0] < len(STATUSES):
        raise ValueError(f"summary status: unknown code {fields[0]}")
    stored.count(fields[1], "summary calls_last_hour")


def _text(value: Any) -> str | None:
    return None if value is None else stored.text(value, "integration")


def _model_fields(value: Any) -> tuple[Any, ...]:
    state = migrate(value)
    pending = stored.mapping(state["baseline"], "baseline").get("pending", [])
    return stored.count(state["last_boundary"], "last_boundary"), len(pending)


def _last_boundary(fields: tuple[Any, ...]) -> None:
    stored.count(fields[0], "last_boundary")


# (partition, newest call or NaN, calls, errors, retries) in the retained windows.
WINDOW_COUNTS = Layout(
    struct.Struct("<Qdqqq"),
    _window_fields,
    lambda value: _text(value.get("i")),
    dictionaries.WINDOW_COUNTS,
    _counts,
)
# (last judged boundary, hours waiting for their business-wide factor)
OPERATION_MODELS = Layout(
    struct.Struct("<qH"),
    _model_fields,
    lambda _: None,
    dictionaries.OPERATION_MODELS_4,
    _last_boundary,
    dictionaries.OPERATION_MODELS,
)
# (status code, calls last hour, expected last hour, error ratio now, normal; NaN: None)
OPERATION_SUMMARIES = Layout(
    struct.Struct("<Bqddd"),
    _summary_fields,
    lambda value: _text(value.get("integration")),
    dictionaries.OPERATION_SUMMARIES,
    _summary_check,
)
# Events in flight and lifecycles: no header.
INFLIGHT_EVENTS = Layout(
    struct.Struct("<"), lambda _: (), lambda _: None, dictionaries.INFLIGHT_EVENTS
)
