"""The ingest stage: the calls topic read in large batches, each batch committed in one
Kafka transaction with everything it produced.

Faust hands messages to agents one at a time, which caps an agent at some 10k messages/s;
this stage reads with aiokafka ``getmany`` instead (a service inside the worker's Faust
app, in the consumer group ``<app_id>-ingest``, so several workers split the partitions),
decodes with orjson (``detector.ingest``), aggregates with numpy into partial counts per
operation (``detector.partials``), and in one transaction sends:

- the partial counts, per partition of ``<app_id>-partials`` one message or, for a
  batch of many operations, a few of about 512 KiB (the ``fold`` agent merges them
  into ``window-counts``),
- dead letters, re-keyed messages and the operation log of failed calls,
- the batch's consumed offsets (``send_offsets_to_transaction``).

A crash at any point aborts the open transaction (the restarted worker, with the same
transactional id, fences and aborts it at once; otherwise the broker does after
``DETECTOR_SESSION_TIMEOUT``) and the batch is read again: readers in ``read_committed``
never see an aborted batch, so no call is lost or counted twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import ConsumerStoppedError, KafkaError, ProducerFenced
from aiokafka.partitioner import DefaultPartitioner
from mode import Service

from agents import fetch, oplog, sending
from agents.deadletter import dead_letter, kafka_source
from agents.fetch import Chunk
from agents.sending import Message
from detector import partials as partial_counts
from detector.errors import ConfigError, DecodeError
from detector.ingest import DecodedBatch, RawRecord, Records, decode_batch
from detector.repeats import Memory
from tables import counts as counts_table

if TYPE_CHECKING:
    from agents.context import Detector

log = logging.getLogger(__name__)
_PARTITIONER = DefaultPartitioner()
_RETRY_SECONDS = 1.0


class _LogLimit:
    """At most one log line per reason per interval: a storm of bad messages must not
    drown the log (the metric counts every one)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.last: dict[str, float] = {}

    def allow(self, reason: str, now: float) -> bool:
        if now - self.last.get(reason, -self.interval) < self.interval:
            return False
        self.last[reason] = now
        return True


_LOG_LIMIT = _LogLimit(10.0)


GC_THRESHOLDS = (50_000, 20, 100)
"""The garbage collector's thresholds in a worker. A batch allocates some 50,000
short-lived containers (decoded values, their shapes, columns); at CPython's default
700 they set off dozens of collections per batch, the older generations walking the
whole heap each time: measured, half the CPU of reading a backlog. What is alive when
the ingest starts (modules, Faust's objects) is frozen out of the collections too."""


def group_id(app_id: str) -> str:
    return f"{app_id}-ingest"


MAX_MESSAGE = 8 << 20
"""The largest partials message: the producer's limit and the partials topic's
``max.message.bytes``; one operation's partial with many lifecycle events may pass the
usual 512 KiB of a message (``detector.partials.MESSAGE_BUDGET``)."""


def partials_topic(app_id: str) -> str:
    return f"{app_id}-partials"


def resume_at(committed: int | None, own: int | None) -> int | None:
    """Where to read a partition again: the group's committed offset, or this worker's own
    last commit there if later. A transaction's offsets show in the group only once the
    broker has written its markers, shortly after the commit returns: read again from
    the group's offset at that moment, a batch already counted would be read and
    counted again (its partial overlaps what was applied, and is applied whole)."""
    if own is None:
        return committed
    return own if committed is None else max(committed, own)


def worker_id(data_dir: Path) -> str:
    """This worker's id, kept in its data directory: a worker restarted on the same data
    fences its own unfinished transaction at once."""
    path = data_dir / "worker-id"
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(uuid.uuid4().hex)
        return path.read_text().strip()
    except OSError as exc:
        raise ConfigError(
            f"cannot keep the worker id in {path}: {exc.strerror}; check DETECTOR_DATA_DIR"
        ) from None


def register(detector: Detector) -> None:
    service = BatchIngest(detector, loop=detector.app.loop, beacon=detector.app.beacon)

    @detector.app.task
    async def start_ingest() -> None:
        await detector.app.add_runtime_dependency(service)


@dataclass(slots=True)
class _Prepared:
    """A batch decoded, with what its transaction sends."""

    fetched: dict[TopicPartition, list[Chunk]]
    decoded: DecodedBatch
    messages: list[Message]
    read: dict[int, float]  # BatchIngest._read once this batch is committed.
    started: float


class _Revocation(ConsumerRebalanceListener):  # type: ignore[misc]
    """A partition leaves this worker only after its batch in flight is committed."""

    def __init__(self, ingest: BatchIngest) -> None:
        self.ingest = ingest

    async def on_partitions_revoked(self, revoked: Any) -> None:
        async with self.ingest.lock:
            self.ingest._generation += 1
            # Failed or not: whoever owns a partition next reads what is not committed.
            await self.ingest._settle()
            await self.ingest._visible(revoked)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        return None


class BatchIngest(Service):
    def __init__(self, detector: Detector, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.detector = detector
        settings = detector.settings
        self.limits = settings.limits
        # Newest event time read per source partition, before the batch at hand: bounds
        # what is late for an operation seen for the first time.
        self._read: dict[int, float] = {}
        self._committed_read: dict[int, float] = {}  # The same, as of the last commit.
        self._in_flight: asyncio.Future[dict[TopicPartition, list[Chunk]] | None] | None = None
        self._generation = 0  # Assignments so far: a batch read under an older one is dropped.
        self._offsets: dict[TopicPartition, int] = {}  # The last offsets this worker committed.
        self._log_start: dict[TopicPartition, int] = {}  # First offsets of the calls partitions.
        # Recent ids per operation (``detector.repeats``), forgotten when reading again:
        # a batch read twice must not repeat its own ids.
        self.ids = Memory()
        self.group = group_id(settings.app_id)
        self.partials_topic = partials_topic(settings.app_id)
        self.lock = asyncio.Lock()
        self.closing = False
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        self._partitions: list[int] = []
        self._said_at = 0.0

    def _new_producer(self) -> AIOKafkaProducer:
        settings = self.detector.settings
        return AIOKafkaProducer(
            bootstrap_servers=settings.broker,
            transactional_id=f"{self.group}-{worker_id(settings.data_dir)}",
            transaction_timeout_ms=int(settings.session_timeout * 1000),
            linger_ms=5,
            max_batch_size=1 << 20,
            max_request_size=MAX_MESSAGE,
        )

    async def on_start(self) -> None:
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        settings = self.detector.settings
        topics = self.detector.topics
        for topic in (topics.calls, topics.invalid, topics.log, topics.payloads, topics.partials):
            await topic.maybe_declare()
        self._partitions = list(range(settings.partitions))
        self.producer = self._new_producer()
        await self.producer.start()
        fetch.install()
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.broker,
            value_deserializer=fetch.ROWS,  # getmany returns plain rows, for columns.
            group_id=self.group,
            enable_auto_commit=False,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=4 << 20,
            fetch_max_bytes=32 << 20,
            session_timeout_ms=int(settings.session_timeout * 1000),
            heartbeat_interval_ms=int(settings.heartbeat_interval * 1000),
            rebalance_timeout_ms=int(settings.rebalance_timeout * 1000),
        )
        self.consumer.subscribe([settings.calls_topic], listener=_Revocation(self))
        await self.consumer.start()

    async def on_stop(self) -> None:
        async with self.lock:  # The batch in flight commits first.
            self.closing = True
            await self._settle()
            if self.consumer is not None:
                await self.consumer.stop()
            if self.producer is not None:
                await self.producer.stop()

    @Service.task
    async def _run(self) -> None:
        """Read, prepare, commit; a batch's transaction commits while the next batch is
        read and prepared (in a thread, so the event loop keeps fetching and committing
        meanwhile): the broker's round trips cost no time of their own."""
        settings = self.detector.settings
        timeout_ms = int(settings.batch_within * 1000)
        while not self.should_stop and not self.closing:
            assert self.consumer is not None
            generation = self._generation
            try:
                got = await self.consumer.getmany(
                    timeout_ms=timeout_ms, max_records=settings.batch_size
                )
                fetched = {tp: [Chunk(rows)] for tp, rows in got.items() if rows}
            except ConsumerStoppedError:
                return
            except KafkaError as exc:
                log.warning("reading %s failed: %s; retrying", settings.calls_topic, exc)
                await asyncio.sleep(_RETRY_SECONDS)
                continue
            fetched = {tp: msgs for tp, msgs in fetched.items() if msgs}
            prepared = await self._prepare(fetched) if fetched else None
            async with self.lock:
                if self.closing:
                    return
                failed = await self._settle()
                if failed is not None or generation != self._generation:
                    # A batch failed, or partitions were reassigned meanwhile (a partition
                    # kept may keep its position): what is not committed is read again.
                    await self._reread()
                    continue
                if prepared is not None:
                    self._in_flight = asyncio.ensure_future(self._commit(prepared))
                if time.monotonic() - self._said_at >= settings.evaluation_interval:
                    failed = await self._settle()
                    if failed is None:
                        await self._say_caught_up()
                    else:
                        await self._reread()

    async def _prepare(self, fetched: dict[TopicPartition, list[Chunk]]) -> _Prepared:
        """Decode a batch and build everything its transaction sends."""
        started = time.perf_counter()
        records = _columns(fetched)
        decoded = await asyncio.to_thread(decode_batch, records, self.limits)
        refused = self._refuse(decoded)
        if refused:
            kept, dropped = records.without(refused)
            decoded = await asyncio.to_thread(decode_batch, kept, self.limits)
            decoded.invalid.extend((r, refused[r.key]) for r in dropped)
        self.ids.mark(decoded)
        last = {tp.partition: chunks[-1].last_offset for tp, chunks in fetched.items()}
        caught_up = {tp.partition: self._read_all(tp, last[tp.partition]) for tp in fetched}
        items = partial_counts.partials(
            decoded, self.detector.settings.window_seconds, last, self._read
        )
        for item in items:
            for source in item.sources:
                self._read[source] = max(item.watermark, self._read.get(source, item.watermark))
        span = await self._span(fetched)
        messages = await asyncio.to_thread(self._messages, items, caught_up, span, decoded)
        return _Prepared(fetched, decoded, messages, dict(self._read), started)

    async def _span(self, fetched: dict[TopicPartition, list[Chunk]]) -> partial_counts.Span:
        """The calls-topic range the batch covers, and the partitions it reads from their
        beginning (``detector.partials.follows``: their first batch starts the chain)."""
        assert self.consumer is not None
        unknown = [tp for tp in fetched if tp not in self._log_start]
        if unknown:
            try:
                self._log_start.update(await self.consumer.beginning_offsets(unknown))
            except KafkaError as exc:  # The fold agent then waits for a batch before it.
                log.warning("reading the first offsets of %s failed: %s", unknown, exc)
        ranges = {tp.partition: (c[0].offsets[0], c[-1].last_offset) for tp, c in fetched.items()}
        starts = frozenset(
            tp.partition
            for tp, chunks in fetched.items()
            if chunks[0].offsets[0] <= self._log_start.get(tp, -1)
        )
        return partial_counts.Span(ranges, starts)

    def _messages(
        self,
        items: list[partial_counts.Partial],
        caught_up: dict[int, bool],
        span: partial_counts.Span,
        decoded: DecodedBatch,
    ) -> list[Message]:
        """The partial counts (a message or a few to every partition of the partials
        topic, with the batch's span, so each partition sees every batch), dead letters,
        re-keyed calls and the operation log of a batch."""
        grouped = partial_counts.by_partition(items, self._partition_of)
        out: list[Message] = [
            (self.partials_topic, None, body, [], None, p)
            for p in self._partitions
            for body in partial_counts.encode(grouped.get(p, []), caught_up, span)
        ]
        out.extend((*extra, None) for extra in self._extras(decoded))
        return out

    def _refuse(self, decoded: DecodedBatch) -> dict[Any, DecodeError]:
        """Record keys of new operations past the caps (``detector.cardinality``), with why.

        The roster starts from the operations this worker's tables hold, and follows what
        its ingest admits: with several workers, the table partitions and the calls
        partitions a worker owns can differ, so the caps hold per worker approximately."""
        counts = self.detector.counts.data
        roster = self.detector.roster
        if not roster.operations and counts:
            items = list(counts.items())
            restore = self.detector.quarantine.decode
            where = ((op, restore(counts_table.NAME, op, v, counts_table.where)) for op, v in items)
            roster.sync((op, w[2] if w else None) for op, w in where)
        refused = roster.refuse(decoded.batch.names, decoded.batch.integrations)
        return {op.encode(): DecodeError("too_many_operations", why) for op, why in refused.items()}

    async def _settle(self) -> dict[TopicPartition, list[Chunk]] | None:
        """Wait for the batch in flight; its messages if it failed."""
        task, self._in_flight = self._in_flight, None
        return None if task is None else await task

    async def _commit(self, prepared: _Prepared) -> dict[TopicPartition, list[Chunk]] | None:
        """Everything the batch produced and its offsets, in one transaction."""
        assert self.producer is not None
        fetched = prepared.fetched
        producer = self.producer
        try:
            async with producer.transaction():
                await sending.send_and_wait(producer, prepared.messages)
                offsets = {tp: chunks[-1].last_offset + 1 for tp, chunks in fetched.items()}
                await producer.send_offsets_to_transaction(offsets, self.group)
        except (TimeoutError, KafkaError) as exc:
            # Fenced: the broker aborted a transaction that outlived its timeout (a slow
            # batch), or another worker runs on the same DETECTOR_DATA_DIR. A new producer
            # takes a new epoch; the batch is read again either way.
            fenced = isinstance(exc, ProducerFenced)
            log.log(
                logging.ERROR if fenced else logging.WARNING,
                "committing a batch of %d messages failed (%s%s): it is read again in %.0f s",
                _count(fetched),
                exc,
                "; is DETECTOR_DATA_DIR shared by two workers?" if fenced else "",
                _RETRY_SECONDS,
            )
            await self._renew_producer()
            await asyncio.sleep(_RETRY_SECONDS)
            return fetched
        self._committed_read = prepared.read
        self._offsets.update(offsets)
        self._observe(fetched, prepared.decoded, time.perf_counter() - prepared.started)
        return None

    def _extras(
        self, decoded: DecodedBatch
    ) -> Iterable[tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]], int | None]]:
        """Dead letters (original bytes; reason and source in headers), re-keyed calls and
        the operation log of the batch."""
        settings = self.detector.settings
        topic = settings.calls_topic
        for record, error in decoded.invalid:
            source = kafka_source(topic, record.partition, record.offset)
            letter = dead_letter(record.key, record.value, error, source)
            yield settings.invalid_topic, letter.key, letter.value, letter.headers, None
        for record, operation in decoded.misrouted:
            yield topic, operation.encode(), record.value, [], None
        for log_topic, key, value, stamp in oplog.messages(settings, decoded.failures):
            yield log_topic, key, value, [], stamp

    async def _say_caught_up(self) -> None:
        """Tell every partition of the partials topic, each evaluation interval, whether
        each owned source partition is read to its end: silence is judged by wall clock
        only once the ingest has read everything, and an idle partition sends no batch
        that could say so. With the last offsets committed there: a fold agent that
        missed the last batch (nothing after it to show the gap) learns so here."""
        assert self.consumer is not None
        assert self.producer is not None
        flags = {}
        for tp in self.consumer.assignment():
            highwater = self.consumer.highwater(tp)
            position = await self.consumer.position(tp)
            flags[tp.partition] = highwater is not None and position >= highwater
        if not flags:
            return
        marks = {tp.partition: o - 1 for tp, o in self._offsets.items() if tp.partition in flags}
        [body] = partial_counts.encode([], flags, partial_counts.Span(marks=marks))
        try:
            async with self.producer.transaction():
                sends = [
                    await self.producer.send(self.partials_topic, body, partition=p)
                    for p in self._partitions
                ]
                await asyncio.gather(*sends)
        except KafkaError as exc:
            log.warning("telling the fold agents where the ingest stands failed: %s", exc)
            await self._renew_producer()
            return
        self._said_at = time.monotonic()

    def _partition_of(self, operation: str) -> int:
        """The partition of the operation's key, as producers and Faust tables place it."""
        partitions = self._partitions
        return int(_PARTITIONER(operation.encode(), partitions, partitions))

    def _read_all(self, tp: TopicPartition, last: int) -> bool:
        highwater = self._highwater(tp)
        return highwater is not None and last + 1 >= highwater

    def _highwater(self, tp: TopicPartition) -> int | None:
        """The partition's end offset; None if unknown, or if the partition was revoked
        since (a batch is prepared outside the lock that revocation waits for)."""
        assert self.consumer is not None
        if tp not in self.consumer.assignment():
            return None
        highwater: int | None = self.consumer.highwater(tp)
        return highwater

    async def _renew_producer(self) -> None:
        """Abort what was sent: a producer that cannot abort (the broker is gone) is
        replaced, which aborts on the broker's side."""
        assert self.producer is not None
        old = self.producer
        self.producer = self._new_producer()
        with contextlib.suppress(KafkaError):
            await old.stop()
        while not self.closing:
            try:
                await self.producer.start()
                return
            except KafkaError as exc:
                log.warning("the transactional producer cannot start (%s); retrying", exc)
                await self.producer.stop()
                self.producer = self._new_producer()
                await asyncio.sleep(_RETRY_SECONDS)

    async def _visible(self, partitions: Iterable[TopicPartition]) -> None:
        """Wait until the group shows the offsets this worker last committed in these
        partitions. A transaction's offsets become visible once the broker has written
        its commit markers, shortly after the commit returns; the next owner must not
        read the offsets from before it, or it would count that batch again. Bounded
        by the session timeout."""
        assert self.consumer is not None
        deadline = time.monotonic() + self.detector.settings.session_timeout
        for tp in partitions:
            expected = self._offsets.pop(tp, None)
            while expected is not None and time.monotonic() < deadline:
                with contextlib.suppress(KafkaError):
                    if (await self.consumer.committed(tp) or -1) >= expected:
                        break
                await asyncio.sleep(0.05)

    async def _reread(self) -> None:
        """Read again, in every partition this worker owns, what is not committed: from
        the group's committed offsets (a transaction whose commit failed on the client
        may have committed on the broker; the renewed producer has settled it either
        way), from the start where nothing is committed (as ``auto_offset_reset``)."""
        assert self.consumer is not None
        self._read = dict(self._committed_read)
        self.ids.forget()
        for tp in self.consumer.assignment():
            while not self.closing:
                try:
                    committed = await self.consumer.committed(tp)
                    break
                except KafkaError as exc:
                    log.warning("reading the committed offset of %s failed: %s", tp, exc)
                    await asyncio.sleep(_RETRY_SECONDS)
            else:
                return
            if tp not in self.consumer.assignment():
                continue  # Reassigned meanwhile: its new owner starts from the committed offset.
            offset = resume_at(committed, self._offsets.get(tp))
            if offset is None:
                await self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, offset)

    def _observe(
        self,
        fetched: dict[TopicPartition, list[Chunk]],
        decoded: DecodedBatch,
        seconds: float,
    ) -> None:
        detector = self.detector
        metrics = detector.metrics
        count = _count(fetched)
        metrics.consumed.inc(count)
        metrics.batch_size.observe(count)
        metrics.batch_seconds.observe(seconds)
        metrics.rekeyed.inc(len(decoded.misrouted))
        now = time.monotonic()
        for record, error in decoded.invalid:
            metrics.invalid.labels(error.reason).inc()
            _log_dead_letter(detector, record, error, now)
        assert self.consumer is not None
        for tp, chunks in fetched.items():
            highwater = self._highwater(tp)
            if highwater is not None:
                lag = max(0, highwater - chunks[-1].last_offset - 1)
                metrics.lag.labels(str(tp.partition)).set(lag)


def _log_dead_letter(detector: Detector, record: RawRecord, error: DecodeError, now: float) -> None:
    if _LOG_LIMIT.allow(error.reason, now):
        log.warning(
            "dead-lettered %s[%d]@%d to %s: %s (fix the producer; the message is kept "
            "there with its reason)",
            detector.settings.calls_topic,
            record.partition,
            record.offset,
            detector.settings.invalid_topic,
            error,
        )


def _count(fetched: dict[TopicPartition, list[Chunk]]) -> int:
    return sum(len(chunk) for chunks in fetched.values() for chunk in chunks)


def _columns(fetched: dict[TopicPartition, list[Chunk]]) -> Records:
    """The fetched chunks as one batch in columns (``detector.ingest.Records``)."""
    keys: list[bytes | None] = []
    values: list[bytes | None] = []
    partitions: list[int] = []
    offsets: list[int] = []
    stamps: list[int] = []
    for tp, chunks in fetched.items():
        for chunk in chunks:
            keys += chunk.keys
            values += chunk.values
            offsets += chunk.offsets
            stamps += chunk.timestamps
        partitions += [tp.partition] * (len(offsets) - len(partitions))
    # Epoch seconds; None where the message has no timestamp (-1).
    seconds = (np.asarray(stamps, dtype=np.float64) / 1000.0).tolist()
    return Records(keys, values, partitions, offsets, [s if s >= 0 else None for s in seconds])
