"""The dead-letter record: what the worker refuses, kept on ``<calls_topic>.invalid``.

One format for every way calls come in (the Kafka ingest stage and ``POST /api/calls``):
the original bytes as value, the original key (none over HTTP), and headers saying
why (``x-detector-reason``, ``x-detector-error``) and where it came from
(``x-detector-source``: ``topic/partition/offset``, or ``http/<producer>/<index>`` with
the record's index in the request, as the HTTP answer gives it). A value cut to fit a
Kafka message says its original size in ``x-detector-truncated``.
"""

from __future__ import annotations

from dataclasses import dataclass

from detector.errors import DecodeError

Headers = list[tuple[str, bytes]]
# Kafka's default largest message is 1 MiB: room is left for the key and the headers. Only
# a record POSTed over HTTP can be larger (one NDJSON line of a 10 MiB body).
MAX_VALUE = 1000 << 10


@dataclass(frozen=True, slots=True)
class DeadLetter:
    key: bytes | None
    value: bytes | None
    headers: Headers


def dead_letter(
    key: bytes | None, value: bytes | None, error: DecodeError, source: str
) -> DeadLetter:
    headers = [
        ("x-detector-reason", error.reason.encode()),
        ("x-detector-error", error.detail[:1000].encode()),
        ("x-detector-source", source.encode()),
    ]
    if value is not None and len(value) > MAX_VALUE:
        headers.append(("x-detector-truncated", str(len(value)).encode()))
        value = value[:MAX_VALUE]
    return DeadLetter(key, value, headers)


def kafka_source(topic: str, partition: int, offset: int) -> str:
    return f"{topic}/{partition}/{offset}"


def http_source(producer: str, index: int) -> str:
    return f"http/{producer}/{index}"
