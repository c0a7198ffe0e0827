"""Repeated ids: the messages that send again an event or a source record the operation
sent recently, the evidence of a resend loop (a consumer that never commits, a retry
without backoff). Pure; the shell keeps one ``Memory`` and hands it each decoded batch.

What repeats: a message's **key** is its ``event_id`` with its status (an event's
``received``, ``processing`` and ``delivered`` are its lifecycle, not repeats; the same
status of the same event again is), or, without an ``event_id``, its ``source_record``
(the same record on another call, whatever its status). ``retrying`` messages have no
key: they announce a retry, and an event retrying past its horizon is already a failure
(``detector.lifecycle``). A message repeats a key seen less than ``HORIZON`` before it
(each sighting renews it); its sighting number counts the key's sightings since it
was new. At-least-once producers and a retry send a record twice or three times;
``LOOP`` sightings or more is a loop's evidence (``rules.resent_ids`` judges it).

Bounded, whatever producers send: per operation that sends ids, two direct-mapped
tables of ``SLOTS`` keys each (a 64-bit hash, last time, sightings: 10 KiB in all),
a key's slot taken from one half of its hash in the first and the other half in the
second, and its sightings the longer chain of the two (two keys of a loop sharing a
slot in one table rarely share one in the other); at most ``MAX_OPERATIONS`` operations
(the least recently used forgotten). A key evicted in both by others is new when it
comes again: a busy operation's slow loop may be under-counted, never a call counted
as a repeat it is not. In record order per operation the tables are the same whatever
the batch boundaries, so live and replay count the same; the worker forgets them when
it re-reads (after a failed commit, a rebalance or a restart), and the first sighting
after is new again.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from detector.events import OperationCall

if TYPE_CHECKING:
    from detector.ingest import DecodedBatch

SLOTS = 256
HORIZON = 3600.0  # Seconds a key is remembered after its last sighting.
LOOP = 4  # The sighting from which a message counts as looped.
MAX_OPERATIONS = 1000

Table = tuple[npt.NDArray[np.uint64], npt.NDArray[np.float64], npt.NDArray[np.int32]]


def key_hash(call: OperationCall) -> int | None:
    """The 64-bit hash of the call's key (module docstring), None if it has none."""
    if call.status == "retrying":
        return None
    if call.event_id is not None:
        key = f"e\0{call.event_id}\0{call.status}"
    elif call.source_record is not None:
        key = f"s\0{call.source_record}"
    else:
        return None
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")


class Memory:
    """Each operation's recent keys (module docstring)."""

    def __init__(self, slots: int = SLOTS, max_operations: int = MAX_OPERATIONS) -> None:
        self.slots = slots
        self.max_operations = max_operations
        self.tables: dict[str, tuple[Table, Table]] = {}

    def forget(self) -> None:
        self.tables.clear()

    def mark(self, decoded: DecodedBatch) -> None:
        """The batch's messages that repeat a key, into ``decoded.batch.repeats`` (and
        their rows into ``decoded.repeated``), in row order. Only the rows with a key
        (``decoded.ids``) take a step: calls without ids cost nothing here."""
        ids = decoded.ids
        if not ids:
            return
        batch = decoded.batch
        rows = list(ids)
        ops = np.array([batch.ops[r] for r in rows], dtype=np.int64)
        times = np.array([batch.timestamps[r] for r in rows], dtype=np.float64)
        hashes = np.fromiter(ids.values(), np.uint64, len(rows))
        level = np.zeros(len(rows), dtype=np.int64)
        for op in np.unique(ops).tolist():
            mine = ops == op
            count = self.sightings(batch.names[op], hashes[mine], times[mine])
            level[mine] = (count >= 2).astype(np.int64) + (count >= LOOP)
        hits = np.flatnonzero(level).tolist()
        names = batch.names
        batch.repeats = [(names[ops[i]], float(times[i]), int(level[i])) for i in hits]
        decoded.repeated = [rows[i] for i in hits]

    def sightings(
        self, operation: str, hashes: npt.NDArray[np.uint64], times: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.int64]:
        """Each message's sighting number of its key (1: new), in the order given (the
        operation's record order), and the table updated as if message by message."""
        tables = self.tables.pop(operation, None)
        if tables is None:
            tables = (_table(self.slots), _table(self.slots))
        self.tables[operation] = tables  # The most recently used last.
        if len(self.tables) > self.max_operations:
            del self.tables[next(iter(self.tables))]
        size = np.uint64(self.slots)
        low = (hashes % size).astype(np.int64)
        high = ((hashes >> np.uint64(32)) % size).astype(np.int64)
        return np.maximum(
            _sightings(tables[0], low, hashes, times), _sightings(tables[1], high, hashes, times)
        )


def _table(slots: int) -> Table:
    return np.zeros(slots, np.uint64), np.zeros(slots, np.float64), np.zeros(slots, np.int32)


def _sightings(
    table: Table,
    slot: npt.NDArray[np.int64],
    hashes: npt.NDArray[np.uint64],
    times: npt.NDArray[np.float64],
) -> npt.NDArray[np.int64]:
    """The messages sorted by slot (stably: in order within a slot), each compared with
    the one before it in its slot (the table's for the first): the same key within the
    horizon continues a chain, whose sightings count on from the chain's start."""
    known, last, seen = table
    n = len(hashes)
    order = np.argsort(slot, kind="stable")
    s, h, t = slot[order], hashes[order], times[order]
    first = np.ones(n, dtype=bool)
    first[1:] = s[1:] != s[:-1]
    before_h, before_t = np.empty_like(h), np.empty_like(t)
    before_h[1:], before_t[1:] = h[:-1], t[:-1]
    before_h[first], before_t[first] = known[s[first]], last[s[first]]
    alive = np.ones(n, dtype=bool)
    alive[first] = seen[s[first]] > 0
    same = alive & (before_h == h) & (np.abs(t - before_t) <= HORIZON)
    begins = np.flatnonzero(~same | first)
    chain = np.cumsum(~same | first) - 1
    base = np.where(same[begins], seen[s[begins]].astype(np.int64) + 1, 1)
    count = base[chain] + np.arange(n) - begins[chain]
    end = np.ones(n, dtype=bool)
    end[:-1] = s[1:] != s[:-1]
    known[s[end]], last[s[end]] = h[end], t[end]
    seen[s[end]] = np.minimum(count[end], np.iinfo(np.int32).max)
    out = np.empty(n, dtype=np.int64)
    out[order] = count
    return out
