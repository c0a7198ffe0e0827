"""HTTP ingest's pure part: bodies split three ways, validated by the event contract,
successes grouped without changing any count; producer tokens parsed and matched."""

from __future__ import annotations

from collections import Counter

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from detector.errors import ConfigError
from detector.events import Limits, decode
from detector.submission import MAX_LISTED, items, parse_tokens, producer_of, submit

NOW = 1_790_000_000.0

good = st.fixed_dictionaries(
    {
        "operation": st.sampled_from(["A.Sub", "B.Sync"]),
        "status": st.sampled_from(["ok", "success", "failed", "retrying", "received"]),
        "timestamp": st.floats(NOW - 100, NOW, allow_nan=False),
    },
    optional={
        "integration": st.sampled_from(["web", "crm"]),
        "error_code": st.just("E1"),
        "event_id": st.sampled_from(["e1", "e2"]),
    },
)
pre_aggregated = st.fixed_dictionaries(
    {"operation": st.just("C.Batch"), "count": st.integers(1, 50), "errors": st.just(0)}
)
bad = st.sampled_from([{"operation": ""}, {"status": "ok"}, [1], "text", {"operation": "A"}])


def tally(records: list[bytes]) -> Counter[str]:
    out: Counter[str] = Counter()
    for raw in records:
        calls, errors, retries = decode(raw, NOW).tally()
        out["calls"] += calls
        out["errors"] += errors
        out["retries"] += retries
    return out


@given(st.lists(st.one_of(good, pre_aggregated, bad), max_size=80), st.booleans())
def test_accepted_calls_arrive_exactly_and_rejections_are_explained(
    records: list[object], as_ndjson: bool
) -> None:
    body = b"\n".join(orjson.dumps(r) for r in records) if as_ndjson else orjson.dumps(records)
    result = submit(body, NOW)
    valid = [orjson.dumps(r) for r in records if isinstance(r, dict) and _valid(r)]
    assert result.accepted == len(valid)
    assert result.rejected == len(records) - len(valid)
    assert tally([m.value for m in result.messages]) == tally(valid)
    assert result.calls == tally(valid)["calls"]
    assert all(m.key == decode(m.value, NOW).operation.encode() for m in result.messages)
    # Only plain successes are grouped: the rest (events followed by their event_id, those
    # under way, failures) reach Kafka byte for byte.
    calls = [(raw, decode(raw, NOW)) for raw in valid]
    passed = [raw for raw, c in calls if c.status != "success" or c.event_id or c.count]
    sent = [m.value for m in result.messages]
    assert all(raw in sent for raw in passed)
    expected_bad = [i for i, r in enumerate(records) if not (isinstance(r, dict) and _valid(r))]
    assert [r.index for r in result.listed] == expected_bad[:MAX_LISTED]


def _valid(record: dict[str, object]) -> bool:
    return bool(record.get("operation")) and ("status" in record or "count" in record)


def test_one_object_an_array_and_ndjson() -> None:
    one = {"operation": "A", "status": "ok", "timestamp": NOW}
    assert len(items(orjson.dumps(one))) == 1
    assert [i for i, _ in items(orjson.dumps([one, one]))] == [0, 1]
    ndjson = orjson.dumps(one) + b"\n\n" + orjson.dumps(one) + b"\r\n"
    assert [i for i, _ in items(ndjson)] == [0, 2]


def test_successes_are_grouped_failures_kept_with_their_evidence() -> None:
    body = b"\n".join(
        [
            orjson.dumps({"operation": "A", "status": "ok", "timestamp": NOW + 0.1 * i})
            for i in range(9)
        ]
        + [orjson.dumps({"operation": "A", "status": "failed", "payload": {"x": 1}})]
    )
    result = submit(body, NOW + 1)
    assert (result.accepted, result.calls, len(result.messages)) == (10, 10, 2)
    failure = next(m for m in result.messages if b"failed" in m.value)
    assert orjson.loads(failure.value)["payload"] == {"x": 1}


def test_rejections_say_why_and_the_list_is_bounded() -> None:
    body = b"\n".join([b"{nope"] * (MAX_LISTED + 5) + [b'{"operation":"A","count":5000}'])
    result = submit(body, NOW, Limits(max_count=1000))
    assert result.rejected == MAX_LISTED + 6
    assert result.reasons == {"not_json": MAX_LISTED + 5, "count_too_large": 1}
    answer = result.answer()
    assert len(answer["errors"]) == MAX_LISTED  # type: ignore[arg-type]
    assert answer["errors_truncated"] is True
    future = submit(orjson.dumps({"operation": "A", "status": "ok", "timestamp": NOW + 3600}), NOW)
    assert future.listed[0].reason == "future_timestamp"


def test_tokens_are_parsed_and_matched() -> None:
    tokens = parse_tokens("shop=aaaaaaaaaaaaaaaa, crm = bbbbbbbbbbbbbbbb # the CRM\n", "T")
    assert producer_of(tokens, "aaaaaaaaaaaaaaaa") == "shop"
    assert producer_of(tokens, "bbbbbbbbbbbbbbbb") == "crm"
    assert producer_of(tokens, "aaaaaaaaaaaaaaab") is None
    assert producer_of({}, "aaaaaaaaaaaaaaaa") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("shop", "expected name=token"),
        ("sh op=aaaaaaaaaaaaaaaa", "expected name=token"),
        ("shop=short", "at least 16"),
        ("a=aaaaaaaaaaaaaaaa,b=aaaaaaaaaaaaaaaa", "same token"),
        ("a=aaaaaaaaaaaaaaaa,a=bbbbbbbbbbbbbbbb", "given twice"),
    ],
)
def test_a_bad_token_entry_names_the_source_and_entry(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        parse_tokens(text, "DETECTOR_INGEST_TOKENS")
    assert str(caught.value).startswith("DETECTOR_INGEST_TOKENS: entry ")


def test_openapi_describes_the_answer() -> None:
    import yaml

    from tests.unit.test_schemas import SCHEMAS

    spec = yaml.safe_load((SCHEMAS.parent / "openapi.yaml").read_text())
    described = spec["components"]["schemas"]["IngestAnswer"]
    answer = submit(b'{"operation": "A"}', NOW).answer()
    assert set(described["properties"]) == set(answer) == set(described["required"])
    error = described["properties"]["errors"]["items"]["properties"]
    assert set(error) == set(answer["errors"][0])  # type: ignore[index]
