"""POST /api/calls on an in-process aiohttp server with a fake Kafka writer: tokens,
size limit, the three body forms, counts and reasons, dead letters, and Kafka failures
(503)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry, Counter

from agents.deadletter import DeadLetter
from agents.settings import Settings
from agents.web.ingest import PATH, Ingest, load_tokens
from detector.errors import ConfigError
from detector.events import decode
from detector.reporting import Outgoing
from detector.submission import parse_tokens

NOW = 1_790_000_000.0
TOKEN = "shop-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
Client = TestClient[web.Request, web.Application]


class FakeKafka:
    def __init__(self) -> None:
        self.written: list[Outgoing] = []
        self.dead: list[DeadLetter] = []
        self.down = False
        self.stuck = False  # Until ``released`` is set.
        self.released = asyncio.Event()
        self.lose = 0  # The next write's first records: not acknowledged, not written.
        self.registry = CollectorRegistry()
        self.invalid = Counter("invalid", "dead letters", ("reason",), registry=self.registry)

    async def write(self, messages: list[Outgoing], dead: list[DeadLetter]) -> list[int]:
        if self.down:
            raise ConnectionError("broker unreachable")
        if self.stuck:
            await self.released.wait()
        lost, self.lose = min(self.lose, len(messages) + len(dead)), 0
        self.written.extend(messages[lost:])
        self.dead.extend(dead[max(0, lost - len(messages)) :])
        return list(range(lost))

    def counted(self, reason: str) -> float | None:
        return self.registry.get_sample_value("invalid_total", {"reason": reason})


@pytest.fixture
def kafka() -> FakeKafka:
    return FakeKafka()


@pytest.fixture
async def client(kafka: FakeKafka) -> AsyncIterator[Client]:
    app = web.Application()
    tokens = parse_tokens(f"shop={TOKEN},crm=crm-token-0123456789", "test")
    Ingest(
        tokens,
        kafka.write,
        CollectorRegistry(),
        kafka.invalid,
        max_bytes=4096,
        write_timeout=0.2,
        clock=lambda: NOW,
    ).add_routes(app)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


def call(**fields: object) -> dict[str, object]:
    return {"operation": "Website.Subscribe", "status": "ok", "timestamp": NOW, **fields}


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token-0123456789"}, {"Authorization": TOKEN}],
)
async def test_without_a_valid_token_401_and_nothing_written(
    client: Client, kafka: FakeKafka, headers: dict[str, str]
) -> None:
    response = await client.post(PATH, data=orjson.dumps(call()), headers=headers)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert kafka.written == []
    assert kafka.dead == []  # Nothing of an unknown client is kept.


async def test_a_body_over_the_limit_gets_413(client: Client, kafka: FakeKafka) -> None:
    big = b"\n".join(orjson.dumps(call(payload="x" * 100)) for _ in range(40))
    response = await client.post(PATH, data=big, headers=AUTH)
    assert response.status == 413

    async def chunks() -> AsyncIterator[bytes]:  # No Content-Length: chunked encoding.
        for _ in range(10):
            yield b" " * 1000

    chunked = await client.post(PATH, data=chunks(), headers=AUTH)
    assert chunked.status == 413
    assert kafka.written == []


@pytest.mark.parametrize("form", ["object", "array", "ndjson"])
async def test_accepted_and_rejected_are_counted_with_reasons(
    client: Client, kafka: FakeKafka, form: str
) -> None:
    records = [call(), call(status="failed", error_code="E1"), call(status="exploded")]
    if form == "object":
        records = records[1:2]
    body = (
        b"\n".join(orjson.dumps(r) for r in records)
        if form == "ndjson"
        else orjson.dumps(records if form == "array" else records[0])
    )
    response = await client.post(PATH, data=body, headers=AUTH)
    assert response.status == 202
    answer = await response.json()
    if form == "object":
        assert (answer["accepted"], answer["rejected"]) == (1, 0)
    else:
        assert (answer["accepted"], answer["rejected"], answer["calls"]) == (2, 1, 2)
        assert answer["errors"][0]["index"] == 2
        assert answer["errors"][0]["reason"] == "invalid"
        assert "status" in answer["errors"][0]["detail"]
    assert {m.key for m in kafka.written} == {b"Website.Subscribe"}
    failed = [decode(m.value) for m in kafka.written if decode(m.value).status == "error"]
    assert [f.error_code for f in failed] == ["E1"]
    if form == "object":
        assert kafka.dead == []
    else:  # The refused record, as it came, with why and from where.
        [dead] = kafka.dead
        assert orjson.loads(dead.value or b"") == records[2]
        assert dead.key is None
        headers = dict(dead.headers)
        assert headers["x-detector-reason"] == b"invalid"
        assert b"status" in headers["x-detector-error"]
        assert headers["x-detector-source"] == b"http/shop/2"
        assert kafka.counted("invalid") == 1


async def test_nothing_valid_is_400_and_empty_is_400(client: Client, kafka: FakeKafka) -> None:
    response = await client.post(PATH, data=b"{not json\n\n[1]", headers=AUTH)
    assert response.status == 400
    answer = await response.json()
    assert [(e["index"], e["reason"]) for e in answer["errors"]] == [
        (0, "not_json"),
        (2, "not_object"),
    ]
    assert (await client.post(PATH, data=b"  \n", headers=AUTH)).status == 400
    assert kafka.written == []
    assert [(d.value, dict(d.headers)["x-detector-source"]) for d in kafka.dead] == [
        (b"{not json", b"http/shop/0"),
        (b"[1]", b"http/shop/2"),
    ]
    assert (kafka.counted("not_json"), kafka.counted("not_object")) == (1, 1)


@pytest.mark.parametrize("fault", ["down", "stuck"])
async def test_kafka_down_or_stuck_is_503_with_retry_after(
    client: Client, kafka: FakeKafka, fault: str
) -> None:
    setattr(kafka, fault, True)
    response = await client.post(PATH, data=orjson.dumps(call()), headers=AUTH)
    assert response.status == 503
    assert response.headers["Retry-After"] == "5"
    refused = await client.post(PATH, data=b"{not json", headers=AUTH)
    assert refused.status == 503  # Its dead letter was not written: send it again.
    assert kafka.counted("not_json") is None


async def test_a_resend_with_its_idempotency_key_is_written_once(
    client: Client, kafka: FakeKafka
) -> None:
    """503 while Kafka is slow; the write goes on, and the client's resends (one while
    it is still under way, one after) write nothing more and get its answer."""
    body = orjson.dumps([call(), call(status="failed"), {"operation": ""}])
    first = {**AUTH, "Idempotency-Key": "order-42"}
    kafka.stuck = True
    assert (await client.post(PATH, data=body, headers=first)).status == 503
    assert (await client.post(PATH, data=body, headers=first)).status == 503  # Still writing.
    kafka.released.set()
    again = await client.post(PATH, data=body, headers=first)
    assert again.status == 202
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (await again.json())["accepted"] == 2
    assert (len(kafka.written), len(kafka.dead), kafka.counted("invalid")) == (2, 1, 1)
    assert (await client.post(PATH, data=body, headers=first)).status == 202
    assert len(kafka.written) == 2
    other = {**AUTH, "Idempotency-Key": "order-43"}  # Another request: written again.
    fresh = await client.post(PATH, data=body, headers=other)
    assert (fresh.status, "Idempotent-Replayed" in fresh.headers) == (202, False)
    assert len(kafka.written) == 4


async def test_a_resend_writes_only_what_kafka_did_not_acknowledge(
    client: Client, kafka: FakeKafka
) -> None:
    body = b"\n".join(
        orjson.dumps(call(operation=f"Shop.Op{i}", status="failed")) for i in range(5)
    )
    headers = {**AUTH, "Idempotency-Key": "batch-7"}
    kafka.lose = 2
    assert (await client.post(PATH, data=body, headers=headers)).status == 503
    assert len(kafka.written) == 3
    assert (await client.post(PATH, data=body, headers=headers)).status == 202
    assert sorted(m.key for m in kafka.written) == [f"Shop.Op{i}".encode() for i in range(5)]
    assert (await client.post(PATH, data=body, headers=headers)).status == 202
    assert len(kafka.written) == 5
    # Without a key a resend is written again (at-least-once).
    kafka.lose = 2
    assert (await client.post(PATH, data=body, headers=AUTH)).status == 503
    assert (await client.post(PATH, data=body, headers=AUTH)).status == 202
    assert len(kafka.written) == 5 + 3 + 5


async def test_a_key_with_another_body_or_malformed_is_refused(
    client: Client, kafka: FakeKafka
) -> None:
    headers = {**AUTH, "Idempotency-Key": "k-1"}
    assert (await client.post(PATH, data=orjson.dumps(call()), headers=headers)).status == 202
    other = await client.post(PATH, data=orjson.dumps(call(status="failed")), headers=headers)
    assert other.status == 422
    bad = await client.post(
        PATH, data=orjson.dumps(call()), headers={**AUTH, "Idempotency-Key": "a b"}
    )
    assert bad.status == 400
    assert len(kafka.written) == 1


def test_tokens_come_from_the_setting_and_the_file(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text("# producers\ncrm=crm-token-0123456789\n")
    settings = Settings(ingest_tokens=f"shop={TOKEN}", ingest_tokens_file=path)  # type: ignore[arg-type]
    assert sorted(load_tokens(settings).values()) == ["crm", "shop"]
    path.write_text(f"again={TOKEN}\n")
    with pytest.raises(ConfigError, match="also in DETECTOR_INGEST_TOKENS"):
        load_tokens(settings)
    missing = Settings(ingest_tokens_file=tmp_path / "nope")  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="cannot read DETECTOR_INGEST_TOKENS_FILE"):
        load_tokens(missing)
