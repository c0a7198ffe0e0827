"""The lifecycles of the operations this worker owns, kept in memory and in two
changelogged table (``tables.inflight``): the ingest agent feeds them, the evaluator
judges with their snapshots, and both store what changed.

After a restart or a rebalance an operation's lifecycle is rebuilt from the tables the
first time it is needed (one pass over the table for every operation not yet
known), so the worker continues exactly where the last owner stopped. Only lifecycles
with events in flight stay in memory: the others (most operations follow no events)
are read back from their own key when next needed, so memory does not grow with the
number of operations.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from functools import partial
from typing import TYPE_CHECKING, Any

from detector.lifecycle import records
from detector.lifecycle.tracker import Event, Lifecycle, Policy
from tables import inflight
from tables.inflight import SEPARATOR, event_key
from tables.writes import delete, put

if TYPE_CHECKING:
    from agents.context import Detector

log = logging.getLogger(__name__)
UNSENT_PRUNE = 10_000


class Lifecycles:
    def __init__(self, detector: Detector) -> None:
        self.detector = detector
        self.table = detector.inflight
        self.known: dict[str, Lifecycle] = {}
        self.scanned = False  # Every operation with events in the table is in ``known``.
        self.policies: dict[int, Policy] = {}  # By rule: operations share their rule's.
        self.overflow: dict[str, int] = {}  # Events not followed so far, if any.
        # (partition, key) -> the future of its last write, until acknowledged.
        self.unsent: dict[tuple[int, str], Any] = {}

    def forget(self, *_: Any) -> None:
        """Partitions moved: rebuild from the tables when next needed."""
        self.known.clear()
        self.overflow.clear()
        self.scanned = False

    def policy(self, operation: str, integration: str | None) -> Policy:
        rule = self.detector.engine.rule(operation, integration)
        found = self.policies.get(id(rule))
        if found is None:
            settings = self.detector.settings
            found = Policy.of(
                rule, settings.window_seconds, self.detector.detection.zone, settings.inflight_cap
            )
            self.policies[id(rule)] = found
        return found

    def get(self, operation: str) -> Lifecycle:
        life = self.known.get(operation)
        if life is None:
            self._rebuild(operation)
            life = self.known[operation]
        return life

    def _rebuild(self, wanted: str) -> None:
        """Every operation not known yet that has events in the table, and ``wanted``
        (once the table was scanned, only ``wanted``: it has no events there)."""
        stored: dict[str, list[tuple[str, list[Any]]]] = defaultdict(list)
        restore = self.detector.quarantine.decode
        for key, value in [] if self.scanned else list(self.table.data.items()):
            operation, separated, event_id = key.partition(SEPARATOR)
            if separated and value is not None and operation not in self.known:
                event = restore(inflight.NAME, key, value, inflight.decode)
                if event is not None:
                    stored[operation].append((event_id, event))
        for operation in {*stored, wanted}:
            raw = self.table.data.get(operation)
            events = stored.get(operation, [])
            if raw is None:  # Never stored, or killed before its first save was.
                life = Lifecycle().take(events)
            else:
                decode = partial(_lifecycle, events=events)
                life = restore(inflight.NAME, operation, raw, decode) or Lifecycle(changed={})
            self.known[operation] = life
            if life.overflow:
                self.overflow.setdefault(operation, life.overflow)
        self.scanned = True

    def save(
        self, operation: str, partition: int, integration: str | None, send: bool = True
    ) -> None:
        """Store what changed. Not ``send`` (judged between checkpoints,
        ``detector.checkpoints``) and no event changed: in memory only, the changelog
        keeps the last checkpoint."""
        life = self.known.get(operation)
        if life is None:
            return
        events = life.drain()
        if send or events:
            self._store(operation, partition, life, events)
        else:
            put(self.table, partition, operation, inflight.encode(life.to_dict()), send=False)
        metrics = self.detector.metrics
        metrics.set_inflight(operation, integration or "", life.in_flight)
        new = life.overflow - self.overflow.get(operation, 0)
        if new > 0:
            label = metrics.operation_label(operation)
            metrics.inflight_overflow.labels(label, integration or "").inc(new)
            self.overflow[operation] = life.overflow
        if not (life.open or life.retrying or life.given_up):
            del self.known[operation]  # Stored whole: read back when next needed.

    def _store(
        self, operation: str, partition: int, life: Lifecycle, events: dict[str, Event | None]
    ) -> None:
        """The events, then the rest (with the number of saves), then the deletions of
        finished events (``detector.lifecycle.records``: a kill part-way leaves event
        records the next worker undoes)."""
        life.saves += 1
        finished = []
        for event_id, event in events.items():
            key = event_key(operation, event_id)
            value = None if event is None else event.to_list()
            record = records.record(value, life.saves, self._before(key, life.saves - 1))
            self._write(partition, key, inflight.encode(record))
            if event is None:
                finished.append(key)
        self._write(partition, operation, inflight.encode(life.to_dict()))
        for key in finished:
            self._write(partition, key, None)

    def _before(self, key: str, saves: int) -> list[Any] | None:
        """An event's value as of the operation's last save (None: none)."""
        stored = self.table.data.get(key)
        if stored is None:
            return None
        raw = self.detector.quarantine.decode(inflight.NAME, key, stored, inflight.decode)
        return None if raw is None else records.value(raw, saves)

    def _write(self, partition: int, key: str, value: Any) -> None:
        """Put (None: delete) a key, remembering the write until it is acknowledged."""
        table = self.table
        sent = delete(table, partition, key) if value is None else put(table, partition, key, value)
        self.unsent[partition, key] = sent
        if len(self.unsent) > UNSENT_PRUNE:  # The timer writes too, between batches.
            self.unsent = {k: f for k, f in self.unsent.items() if not f.done()}

    def begin(self) -> None:
        """A batch starts: ``durable`` waits for the writes from now on (not for the
        timer's between batches, which mark nothing applied: one sent while the broker
        was away may never be acknowledged, and must not stop the fold agent)."""
        self.unsent = {}

    async def durable(self) -> None:
        """Wait until the broker has every write since ``begin``; a failed one is sent
        again.

        The fold agent waits for this before it stores the counts that mark a batch
        applied: a worker that dies in between then finds the batch in the lifecycle
        (``detector.lifecycle.batch.apply_once``), never the counts without it."""
        while self.unsent:
            unsent, self.unsent = self.unsent, {}
            results = await asyncio.gather(*unsent.values(), return_exceptions=True)
            failed = [k for k, r in zip(unsent, results, strict=True) if isinstance(r, Exception)]
            if failed:
                log.warning(
                    "writing %d events in flight to the changelog failed; retrying in 1 s",
                    len(failed),
                )
                await asyncio.sleep(1.0)
                for partition, key in failed:
                    if (partition, key) not in self.unsent:  # Not written anew meanwhile.
                        self._write(partition, key, self.table.data.get(key))

    def evict(self, operation: str, partition: int) -> None:
        """Forget an idle operation's lifecycle: its events and its own key deleted
        from the table (tombstones), its overflow count dropped."""
        life = self.get(operation)
        for event_id in {*life.open, *life.retrying, *life.given_up}:
            self._write(partition, event_key(operation, event_id), None)
        self._write(partition, operation, None)
        self.known.pop(operation, None)
        self.overflow.pop(operation, None)


def _lifecycle(raw: bytes, events: list[tuple[str, list[Any]]]) -> Lifecycle:
    return Lifecycle.from_dict(inflight.decode(raw), events)
