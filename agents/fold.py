"""The fold agent: partial counts from the ingest stage merged into ``window-counts``.

One message per partition per ingest batch, so Faust's per-message cost is paid per
batch, not per call. A partial already applied (Faust delivers at least once) is
skipped by the source offsets it carries (``detector.partials.fold``); each changed
operation's windows are on the changelog before the message is acknowledged, so a
restarted worker recovers them with the offsets they include.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from agents.pacing import Pacer
from detector import partials
from detector.lifecycle.batch import apply_once
from detector.windows import OperationWindows, closed_until
from tables import counts as counts_table
from tables.writes import put

if TYPE_CHECKING:
    from agents.context import Detector

log = logging.getLogger(__name__)
_RETRY_SECONDS = 1.0


def register(detector: Detector) -> None:
    @detector.app.agent(detector.topics.partials, name="fold")
    async def fold(stream: Any) -> None:
        async for event in stream.events():
            await fold_message(detector, event.message.partition, event.value, time.time())


async def fold_message(detector: Detector, partition: int, raw: bytes, now: float) -> None:
    async with detector.judging:
        await _fold(detector, partition, raw, now)


async def _fold(detector: Detector, partition: int, raw: bytes, now: float) -> None:
    settings = detector.settings
    items, caught_up = partials.decode(raw)
    detector.lifecycles.begin()
    detector.progress.heard(partition, caught_up, now)
    retention = settings.window_retention_seconds
    changed: list[tuple[str, OperationWindows]] = []
    pacer = Pacer()
    for item in items:
        await pacer.turn()
        current = detector.counts.data.get(item.operation)
        state = (
            detector.quarantine.decode(
                counts_table.NAME, item.operation, current, counts_table.decode
            )
            if current is not None
            else None
        )
        folded = partials.fold(state, item, partition, retention)
        if folded is None:
            continue  # Applied before this worker (or its predecessor) stopped.
        state, late = folded
        if item.events:  # Followed events: their lifecycle says what they count.
            book = detector.lifecycles
            policy = book.policy(item.operation, state.integration)
            life = book.get(item.operation)
            for start, counts in apply_once(life, item.events, item.sources, policy).items():
                state.merge(start, counts)
        metrics = detector.metrics
        metrics.late.inc(late.calls)
        if not state.windows:
            continue  # A new operation whose every call was late: nothing to keep.
        labels = (metrics.operation_label(item.operation), state.integration or "")
        metrics.calls.labels(*labels).inc(sum(w.calls for _, w in item.windows) - late.calls)
        metrics.errors.labels(*labels).inc(sum(w.errors for _, w in item.windows) - late.errors)
        metrics.retries.labels(*labels).inc(sum(w.retries for _, w in item.windows) - late.retries)
        until = closed_until(settings.window_seconds, settings.grace_seconds, item.watermark)
        await detector.judge(item.operation, state, until, now)
        detector.lifecycles.save(item.operation, partition, state.integration)
        state.expire(retention)
        changed.append((item.operation, state))
    await _durable(detector, partition, changed)


async def _durable(
    detector: Detector, partition: int, changed: list[tuple[str, OperationWindows]]
) -> None:
    """Write the new values and wait until the changelog has them; a failed write is
    sent again (the message is not acknowledged before), never skipped. The lifecycles'
    writes first: the counts mark the batch applied, so they must not be stored alone."""
    await detector.lifecycles.durable()
    pending = {op: counts_table.encode(state) for op, state in changed}
    while pending:
        sent = {op: put(detector.counts, partition, op, v) for op, v in pending.items()}
        results = await asyncio.gather(*sent.values(), return_exceptions=True)
        failed = {op for op, r in zip(sent, results, strict=True) if isinstance(r, Exception)}
        if failed:
            log.warning(
                "writing the window counts of %d operations to the changelog failed; "
                "retrying in %.0f s",
                len(failed),
                _RETRY_SECONDS,
            )
            await asyncio.sleep(_RETRY_SECONDS)
        pending = {op: v for op, v in pending.items() if op in failed}
