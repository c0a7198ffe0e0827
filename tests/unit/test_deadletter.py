"""The dead-letter record, one format for Kafka and HTTP ingest: original bytes, why and
from where; a value too large for a Kafka message is cut and says its size."""

from __future__ import annotations

from agents.deadletter import MAX_VALUE, dead_letter, http_source, kafka_source
from detector.errors import DecodeError


def test_the_original_bytes_with_why_and_from_where() -> None:
    error = DecodeError("invalid", "status: 'sideways' is not a status " + "x" * 2000)
    raw = b'{"status": "sideways"}'
    letter = dead_letter(b"Web.Form", raw, error, kafka_source("calls", 3, 17))
    assert (letter.key, letter.value) == (b"Web.Form", raw)
    headers = dict(letter.headers)
    assert headers["x-detector-reason"] == b"invalid"
    assert headers["x-detector-error"] == error.detail[:1000].encode()
    assert headers["x-detector-source"] == b"calls/3/17"
    assert "x-detector-truncated" not in headers
    assert (
        dict(dead_letter(None, b"", error, http_source("shop", 4)).headers)["x-detector-source"]
        == b"http/shop/4"
    )


def test_a_value_too_large_for_kafka_is_cut_and_says_its_size() -> None:
    big = b"x" * (MAX_VALUE + 5)
    letter = dead_letter(None, big, DecodeError("not_json", "not JSON"), http_source("shop", 0))
    assert letter.value == big[:MAX_VALUE]
    assert dict(letter.headers)["x-detector-truncated"] == str(len(big)).encode()
