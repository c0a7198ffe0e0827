"""The producer library for Python services: ``report()`` calls to ``operation-calls``.

```python
from agents.producer import Reporter
reporter = Reporter("kafka:9092", integration="website")        # once, at start
reporter.report("Website.Subscribe", ok=False, error_code="invalid_email", payload=form)
```

``report()`` only takes a lock for a few microseconds and appends to a bounded buffer
(``detector.reporting``), so it is safe in a Django or Flask view, in threads and in
asyncio code. A background thread with its own event loop sends the buffer with aiokafka:
successes pre-aggregated per operation per second, failures one by one. When Kafka is
away, the thread keeps retrying and what does not fit in the buffer is dropped and
counted (``reporter.counters()``, or ``ReporterMetrics`` for Prometheus), never raised.
``close()`` (also at interpreter exit, or leaving ``with Reporter(...)``) sends what is
left, waiting at most its timeout.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from detector.reporting import Counters, Outgoing, ReportBuffer

log = logging.getLogger(__name__)


class Reporter:
    """Reports calls of one service; one per process is enough (it is thread-safe)."""

    def __init__(
        self,
        broker: str = "127.0.0.1:9092",
        topic: str = "operation-calls",
        *,
        integration: str | None = None,
        linger: float = 0.2,
        max_groups: int = 10_000,
        max_bytes: int = 8 * 1024 * 1024,
        max_record_bytes: int = 64 * 1024,
        batch: int = 5_000,
        retry_backoff: float = 1.0,
        close_timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
        **producer_config: Any,
    ) -> None:
        self.broker = broker
        self.topic = topic
        self.integration = integration
        self.linger = linger
        self.batch = batch
        self.retry_backoff = retry_backoff
        self.close_timeout = close_timeout
        self.clock = clock
        self.producer_config = producer_config
        self._bounds = {
            "max_groups": max_groups,
            "max_bytes": max_bytes,
            "max_record_bytes": max_record_bytes,
        }
        self._start()
        # A server that forks its workers after import (gunicorn --preload, uWSGI) leaves
        # the child without the sending thread: each child starts its own.
        after_fork = weakref.WeakMethod(self._start)
        os.register_at_fork(after_in_child=lambda: (m := after_fork()) and m())
        atexit.register(self.close)

    def _start(self) -> None:
        """Fresh state and sending thread (at start, and in a forked child, whose copy of
        the parent's buffer is the parent's to send)."""
        self._buffer = ReportBuffer(**self._bounds)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._in_flight = 0
        self._flush_wanted = False
        self._closing = threading.Event()
        self._abandoned = False
        self._close_deadline = 0.0
        self._last_warning = -60.0
        self._thread = threading.Thread(target=self._run, name="detector-reporter", daemon=True)
        self._thread.start()

    def report(
        self,
        operation: str,
        *,
        ok: bool,
        retrying: bool = False,
        error_code: str | int | None = None,
        error_message: str | None = None,
        payload: Any = None,
        source_record: str | int | None = None,
        destination_record: str | int | None = None,
        event_id: str | int | None = None,
        duration_ms: float | None = None,
        integration: str | None = None,
        at: float | None = None,
    ) -> None:
        """Record one call (``at``: its epoch seconds, default now). Never blocks on Kafka,
        never raises: a call that cannot be kept is counted in ``counters().dropped``."""
        try:
            when = self.clock() if at is None else at
            evidence = {
                "error_code": error_code,
                "error_message": error_message,
                "payload": payload,
                "source_record": source_record,
                "destination_record": destination_record,
                "event_id": event_id,
                "duration_ms": duration_ms,
            }
            with self._lock:
                if self._closing.is_set():
                    self._buffer.counters.reported += 1
                    self._buffer.counters.dropped["closed"] += 1
                    return
                self._buffer.report(
                    operation,
                    ok=ok,
                    at=when,
                    retrying=retrying,
                    integration=integration or self.integration,
                    **evidence,
                )
        except Exception:  # The caller's request must not fail because of reporting.
            log.exception("reporting %r failed; the call is not reported", operation)

    def counters(self) -> Counters:
        """reported, sent, dropped (by reason) and payloads omitted, since start."""
        with self._lock:
            return self._buffer.counters.snapshot()

    def pending(self) -> tuple[int, int]:
        """(calls, bytes) waiting to be sent, in flight included."""
        with self._lock:
            return self._buffer.pending_calls + self._in_flight, self._buffer.pending_bytes

    def flush(self, timeout: float = 5.0) -> bool:
        """Send everything reported so far; True if it was all acknowledged in time."""
        deadline = time.monotonic() + timeout
        with self._idle:
            self._flush_wanted = True
            while self._buffer or self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    return False
                self._idle.wait(min(left, 0.05))
        return True

    def close(self, timeout: float | None = None) -> bool:
        """Send what is left (waiting at most ``timeout``) and stop; what is still unsent
        then is counted as dropped (``closed``). True if nothing was dropped."""
        atexit.unregister(self.close)
        timeout = self.close_timeout if timeout is None else timeout
        with self._lock:
            if not self._closing.is_set():
                self._close_deadline = time.monotonic() + timeout
                self._closing.set()
        self._thread.join(timeout + 1.0)
        with self._lock:
            lost = self._buffer.drop_pending("closed")
            if self._thread.is_alive():  # Stuck sending: what is in flight counts as lost.
                self._buffer.counters.dropped["closed"] += self._in_flight
                lost += self._in_flight
                self._abandoned = True
        if lost:
            log.warning(
                "closed with %d reported calls unsent (Kafka at %s unreachable?)", lost, self.broker
            )
        return lost == 0 and not self._thread.is_alive()

    async def aclose(self) -> bool:
        """``close()`` for asyncio code, without blocking the event loop."""
        return await asyncio.to_thread(self.close)

    def __enter__(self) -> Reporter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # The background thread.

    def _run(self) -> None:
        asyncio.run(self._loop())

    async def _loop(self) -> None:
        producer: AIOKafkaProducer | None = None
        while True:
            closing = self._closing.is_set()
            if closing and time.monotonic() >= self._close_deadline:
                break
            if producer is None:
                producer = await self._connect()
                if producer is None:
                    await asyncio.sleep(self.retry_backoff)
                    continue
            drained, done = await self._send_once(producer, final=closing)
            if closing and done:
                break
            if drained < self.batch:
                await asyncio.sleep(self.linger)
        if producer is not None:
            await producer.stop()

    async def _connect(self) -> AIOKafkaProducer | None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.broker,
            linger_ms=5,
            request_timeout_ms=10_000,
            **self.producer_config,
        )
        try:
            await producer.start()
        except (KafkaError, OSError) as exc:
            await producer.stop()
            self._warn(
                f"Kafka at {self.broker} unreachable ({exc}); reports are kept in a "
                "bounded buffer and retried"
            )
            return None
        return producer

    async def _send_once(self, producer: AIOKafkaProducer, *, final: bool) -> tuple[int, bool]:
        """One batch out of the buffer: (messages drained, whether all is sent now)."""
        with self._lock:
            final = final or self._flush_wanted
            items = self._buffer.drain(self.clock(), limit=self.batch, final=final)
            self._in_flight = sum(item.calls for item in items)
        failed: list[Outgoing] = []
        if items:
            failed = await self._send(producer, items)
        with self._idle:
            self._in_flight = 0
            if not self._buffer:
                self._flush_wanted = False
            self._idle.notify_all()
            return len(items), not failed and not self._buffer

    async def _send(self, producer: AIOKafkaProducer, items: list[Outgoing]) -> list[Outgoing]:
        """Send and await the acknowledgements; what failed transiently goes back into the
        buffer, what Kafka refused for good is dropped (``rejected``). Returns the failed."""
        futures: list[asyncio.Future[Any] | None] = []
        for item in items:
            try:
                futures.append(await producer.send(self.topic, item.value, key=item.key))
            except KafkaError:
                futures.append(None)
        results = await asyncio.gather(
            *(f for f in futures if f is not None), return_exceptions=True
        )
        outcome = iter(results)
        delivered, retry, rejected = [], [], []
        for item, future in zip(items, futures, strict=True):
            result = next(outcome) if future is not None else KafkaError("not sent")
            if not isinstance(result, BaseException):
                delivered.append(item)
            elif isinstance(result, KafkaError) and not result.retriable and future is not None:
                rejected.append(item)
            else:
                retry.append(item)
        with self._lock:
            if self._abandoned:  # close() gave up on these and counted them.
                return []
            self._buffer.delivered(delivered)
            self._buffer.drop(rejected, "rejected")
            self._buffer.requeue(retry)
        if retry or rejected:
            self._warn(
                f"{len(retry)} records not acknowledged by Kafka (retried) and "
                f"{len(rejected)} refused (dropped)"
            )
        return retry + rejected

    def _warn(self, message: str) -> None:
        """At most one warning a minute: a long outage must not flood the service's log."""
        now = time.monotonic()
        if now - self._last_warning >= 60.0:
            self._last_warning = now
            log.warning("operation reports: %s", message)


class ReporterMetrics:
    """A reporter's counters for the service's own Prometheus registry:
    ``prometheus_client.REGISTRY.register(ReporterMetrics(reporter))``."""

    def __init__(self, reporter: Reporter) -> None:
        self.reporter = reporter

    def collect(self) -> Iterator[Metric]:
        counters = self.reporter.counters()
        calls = CounterMetricFamily(
            "detector_reporter_calls",
            "Calls given to report() (reported) and acknowledged by Kafka (sent).",
            labels=["result"],
        )
        calls.add_metric(["reported"], counters.reported)
        calls.add_metric(["sent"], counters.sent)
        dropped = CounterMetricFamily(
            "detector_reporter_dropped_calls",
            "Reported calls dropped, by reason (buffer_full, invalid, rejected, closed).",
            labels=["reason"],
        )
        for reason, count in sorted(counters.dropped.items()):
            dropped.add_metric([reason], count)
        pending_calls, pending_bytes = self.reporter.pending()
        pending = GaugeMetricFamily(
            "detector_reporter_pending_calls", "Reported calls not yet acknowledged by Kafka."
        )
        pending.add_metric([], pending_calls)
        buffered = GaugeMetricFamily(
            "detector_reporter_buffered_bytes", "Bytes of serialized records waiting to be sent."
        )
        buffered.add_metric([], pending_bytes)
        yield from (calls, dropped, pending, buffered)
