"""``POST /api/calls``: HTTP ingest for producers that cannot speak Kafka.

Authenticated by its own per-producer bearer token (``DETECTOR_INGEST_TOKENS`` or
``DETECTOR_INGEST_TOKENS_FILE``), independent of any dashboard login: the route is an
``open_route``, which the dashboard's login middleware leaves alone. The body is read
up to ``DETECTOR_INGEST_MAX_BYTES`` (413 beyond), validated by ``detector.submission``
and written to ``operation-calls`` keyed by operation, the records refused dead-lettered
as the Kafka ingest does (``agents.deadletter``, counted in
``detector_invalid_events_total{reason}``); 202 once Kafka acknowledged it all.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from hashlib import sha256
from typing import Any

import orjson
from aiohttp import web
from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry, Counter

from agents.clients import ensure_topic
from agents.deadletter import DeadLetter, dead_letter, http_source
from agents.settings import Settings
from agents.web.auth import open_route
from agents.web.idempotency import HEADER, Attempt, Attempts, valid_key
from detector.errors import ConfigError
from detector.events import LIMITS, Limits
from detector.reporting import Outgoing
from detector.submission import Submission, parse_tokens, producer_of, submit

log = logging.getLogger(__name__)

PATH = "/api/calls"
Write = Callable[[list[Outgoing], list[DeadLetter]], Awaitable[list[int]]]
"""Send the calls and the dead letters; once Kafka answered for each, the positions (in
the calls, then the dead letters) of those it did not acknowledge."""


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "detector_http_ingest_requests",
            "POST /api/calls requests, by HTTP status code.",
            ("code",),
            registry=registry,
        )
        self.records = Counter(
            "detector_http_ingest_records",
            "Records received over HTTP, by producer and result (accepted or rejected).",
            ("producer", "result"),
            registry=registry,
        )
        self.calls = Counter(
            "detector_http_ingest_calls",
            "Calls accepted over HTTP, by producer.",
            ("producer",),
            registry=registry,
        )


class Ingest:
    def __init__(
        self,
        tokens: dict[bytes, str],
        write: Write,
        registry: CollectorRegistry,
        invalid: Counter,
        *,
        max_bytes: int,
        limits: Limits = LIMITS,
        write_timeout: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.tokens = tokens
        self.write = write
        self.max_bytes = max_bytes
        self.limits = limits
        self.write_timeout = write_timeout
        self.clock = clock
        self.metrics = IngestMetrics(registry)
        self.invalid = invalid  # detector_invalid_events_total{reason}, shared with Kafka ingest.
        self.attempts = Attempts()
        self._writing: set[asyncio.Task[None]] = set()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(PATH, self.post)
        app.on_cleanup.append(self._cancel_writes)

    @open_route
    async def post(self, request: web.Request) -> web.Response:
        response = await self._handle(request)
        self.metrics.requests.labels(str(response.status)).inc()
        return response

    async def _handle(self, request: web.Request) -> web.Response:
        producer = self._authenticate(request)
        if producer is None:
            return _plain(
                401,
                "A valid producer token is required: Authorization: Bearer <token> "
                "(DETECTOR_INGEST_TOKENS on the worker).",
                {"WWW-Authenticate": 'Bearer realm="detector-ingest"'},
            )
        body = await self._body(request)
        if body is None:
            return _plain(413, f"The body is over the limit of {self.max_bytes} bytes; split it.")
        if not body.strip():
            return _plain(400, "The body is empty: send a JSON object, a JSON array or NDJSON.")
        key = request.headers.get(HEADER)
        if key is not None and not valid_key(key):
            return _plain(400, f"{HEADER}: 1 to 200 printable ASCII characters, no spaces.")
        digest = sha256(body).digest()
        attempt = None if key is None else self.attempts.find(producer, key)
        if attempt is None:
            attempt = Attempt(digest, self.clock())
            if key is not None:
                self.attempts.add(producer, key, attempt)
        elif attempt.digest != digest:
            return _plain(422, f"This {HEADER} was sent with another body; use a new key.")
        elif attempt.answer is not None:
            return _answer(*attempt.answer, {"Idempotent-Replayed": "true"})
        if attempt.writing is None or attempt.writing.done():
            # Inline: ~10 us a record, so a 10 MiB body holds the loop for well under a second.
            submission = submit(body, attempt.now, self.limits)
            attempt.writing = asyncio.create_task(self._write(producer, attempt, submission))
            self._writing.add(attempt.writing)
            attempt.writing.add_done_callback(self._writing.discard)
        try:
            async with asyncio.timeout(self.write_timeout):
                # Shielded: the write goes on after a 503, and a resend waits for it.
                await asyncio.shield(attempt.writing)
        except TimeoutError:
            log.warning("HTTP ingest from %s: Kafka is slow to acknowledge; answered 503", producer)
        if attempt.answer is None:
            return _plain(
                503, "Kafka did not acknowledge the calls; retry later.", {"Retry-After": "5"}
            )
        return _answer(*attempt.answer)

    async def _write(self, producer: str, attempt: Attempt, submission: Submission) -> None:
        """Write what Kafka has not acknowledged yet of a request (all of it the first
        time); once every record is, count them and keep the answer."""
        dead = [
            dead_letter(None, raw, error, http_source(producer, index))
            for index, raw, error in submission.refused
        ]
        n = len(submission.messages)
        order = sorted(attempt.left) if attempt.left is not None else list(range(n + len(dead)))
        messages = [submission.messages[i] for i in order if i < n]
        letters = [dead[i - n] for i in order if i >= n]
        try:
            failed = await self.write(messages, letters) if order else []
        except Exception as exc:  # Kafka away: nothing acknowledged, retry later.
            log.warning("HTTP ingest from %s not written to Kafka: %r", producer, exc)
            failed = list(range(len(order)))
        attempt.left = {order[i] for i in failed}
        if attempt.left:
            log.warning(
                "HTTP ingest from %s: Kafka did not acknowledge %d of %d records",
                producer,
                len(attempt.left),
                n + len(dead),
            )
            return
        self.metrics.records.labels(producer, "accepted").inc(submission.accepted)
        self.metrics.records.labels(producer, "rejected").inc(submission.rejected)
        self.metrics.calls.labels(producer).inc(submission.calls)
        for reason, count in submission.reasons.items():
            self.invalid.labels(reason).inc(count)
        status = 400 if submission.rejected and not submission.accepted else 202
        attempt.answer = (status, orjson.dumps(submission.answer()))

    async def _cancel_writes(self, _app: web.Application) -> None:
        for task in list(self._writing):
            task.cancel()

    def _authenticate(self, request: web.Request) -> str | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return producer_of(self.tokens, token.strip())

    async def _body(self, request: web.Request) -> bytes | None:
        """The body, or None as soon as it is known to be over the limit."""
        if request.content_length is not None and request.content_length > self.max_bytes:
            return None
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.content.iter_chunked(1 << 16):
            size += len(chunk)
            if size > self.max_bytes:
                return None
            chunks.append(chunk)
        return b"".join(chunks)


def _plain(status: int, text: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=text, headers=headers)


def _answer(status: int, body: bytes, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=body, content_type="application/json", headers=headers)


def load_tokens(settings: Settings) -> dict[bytes, str]:
    """Every producer token from the setting and the file; a mistake fails at start."""
    tokens: dict[bytes, str] = {}
    if settings.ingest_tokens is not None:
        tokens.update(
            parse_tokens(settings.ingest_tokens.get_secret_value(), "DETECTOR_INGEST_TOKENS")
        )
    path = settings.ingest_tokens_file
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"cannot read DETECTOR_INGEST_TOKENS_FILE {path}: {exc.strerror}"
            ) from None
        for digest, name in parse_tokens(text, str(path)).items():
            if digest in tokens or name in tokens.values():
                raise ConfigError(
                    f"{path}: {name!r} or its token is also in DETECTOR_INGEST_TOKENS"
                )
            tokens[digest] = name
    return tokens


class KafkaWriter:
    """HTTP ingest's own Kafka producer, started on the first request.

    Not Faust's producer: that one is shared with the agents, the changelogs and topic
    creation, and was seen to hold an ingest request for minutes while the worker was
    creating its log topic. Sends every message (key = operation) and dead letter, and
    waits until Kafka acknowledged them all.
    """

    def __init__(self, broker: str, topic: str, invalid_topic: str, partitions: int) -> None:
        self.broker = broker
        self.topic = topic
        self.invalid_topic = invalid_topic
        self.partitions = partitions
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def __call__(self, messages: list[Outgoing], dead: list[DeadLetter]) -> list[int]:
        producer = await self._started()
        sends: list[tuple[str, bytes | None, bytes | None, Any]]
        sends = [(self.topic, m.value, m.key, None) for m in messages]
        sends += [(self.invalid_topic, d.value, d.key, d.headers) for d in dead]
        pending = []
        failed: list[int] = []
        for i, (topic, value, key, headers) in enumerate(sends):
            try:
                pending.append((i, await producer.send(topic, value, key=key, headers=headers)))
            except Exception:  # The producer gave up (no broker): these were never sent.
                failed = list(range(i, len(sends)))
                break
        results = await asyncio.gather(*(sent for _, sent in pending), return_exceptions=True)
        return [
            i for (i, _), r in zip(pending, results, strict=True) if isinstance(r, Exception)
        ] + failed

    async def _started(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                # A request may come before the worker created the topics: never let the
                # broker auto-create them with its own defaults.
                for topic in (self.topic, self.invalid_topic):
                    await ensure_topic(self.broker, topic, self.partitions)
                producer = AIOKafkaProducer(bootstrap_servers=self.broker, acks="all", linger_ms=5)
                try:
                    await producer.start()
                except BaseException:
                    await producer.stop()
                    raise
                self._producer = producer
            return self._producer

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
