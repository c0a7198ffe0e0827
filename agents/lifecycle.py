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

from collections import defaultdict
from functools import partial
from typing import TYPE_CHECKING, Any

from detector.lifecycle.tracker import Lifecycle, Policy
from tables import inflight
from tables.inflight import SEPARATOR, event_key
from tables.writes import delete, put

if TYPE_CHECKING:
    from agents.context import Detector


class Lifecycles:
    def __init__(self, detector: Detector) -> None:
        self.detector = detector
        self.table = detector.inflight
        self.known: dict[str, Lifecycle] = {}
        self.scanned = False  # Every operation with events in the table is in ``known``.
        self.policies: dict[int, Policy] = {}  # By rule: operations share their rule's.
        self.overflow: dict[str, int] = {}  # Events not followed so far, if any.

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
            life = None
            if raw is not None:
                life = restore(inflight.NAME, operation, raw, partial(_lifecycle, events=events))
            life = life or Lifecycle()
            life.changed = {}
            self.known[operation] = life
            if life.overflow:
                self.overflow.setdefault(operation, life.overflow)
        self.scanned = True

    def save(self, operation: str, partition: int, integration: str | None) -> None:
        """Store what changed: the events (deleted when finished) and the rest."""
        life = self.known.get(operation)
        if life is None:
            return
        for event_id, event in life.drain().items():
            key = event_key(operation, event_id)
            if event is None:
                delete(self.table, partition, key)
            else:
                put(self.table, partition, key, inflight.encode(event.to_list()))
        put(self.table, partition, operation, inflight.encode(life.to_dict()))
        metrics = self.detector.metrics
        metrics.set_inflight(operation, integration or "", life.in_flight)
        new = life.overflow - self.overflow.get(operation, 0)
        if new > 0:
            label = metrics.operation_label(operation)
            metrics.inflight_overflow.labels(label, integration or "").inc(new)
            self.overflow[operation] = life.overflow
        if not (life.open or life.retrying or life.given_up):
            del self.known[operation]  # Stored whole: read back when next needed.

    def evict(self, operation: str, partition: int) -> None:
        """Forget an idle operation's lifecycle: its events and its own key deleted
        from the table (tombstones), its overflow count dropped."""
        life = self.get(operation)
        for event_id in {*life.open, *life.retrying, *life.given_up}:
            delete(self.table, partition, event_key(operation, event_id))
        delete(self.table, partition, operation)
        self.known.pop(operation, None)
        self.overflow.pop(operation, None)


def _lifecycle(raw: bytes, events: list[tuple[str, list[Any]]]) -> Lifecycle:
    return Lifecycle.from_dict(inflight.decode(raw), events)
