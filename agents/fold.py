"""The fold agent: partial counts from the ingest stage merged into ``window-counts``.

One message per partition per ingest batch, so Faust's per-message cost is paid per
batch, not per call. Messages are applied in their chain's order, none skipped, none
twice (``agents.chains``); an operation's partial already applied before a crash is
skipped by the source offsets it carries (``detector.partials.fold``). Each changed
operation's windows, then the chain, are on the changelog before the message is
acknowledged, so a restarted worker recovers them with the offsets they include.
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
from tables import chains as chains_table
from tables import counts as counts_table
from tables.writes import put

if TYPE_CHECKING:
    from agents.context import Detector

log = logging.getLogger(__name__)
_RETRY_SECONDS = 1.0


def register(detector: Detector) -> None:
    @detector.app.agent(detector.topics.partials, name="fold")
    async def fold(stream: Any) -> None:
        # Acknowledged by hand: not a message whose missing predecessors could not be
        # read now (``agents.chains``), so the committed offset does not pass it.
        async for event in stream.noack().events():
            message = event.message
            if await fold_message(detector, message.partition, message.offset, event.value):
                event.ack()

    @detector.app.on_before_shutdown.connect
    async def stop_reader(_app: Any, /, *_: Any, **__: Any) -> None:
        await detector.fold_chains.stop()


async def fold_message(detector: Detector, partition: int, offset: int, raw: bytes) -> bool:
    """Fold one message of the partials topic, after the ones missing before it; whether
    to acknowledge it."""
    async with detector.judging:
        now = time.time()
        chains = detector.fold_chains
        message = partials.decode(raw)
        if chains.admit(partition, offset, message[2], False) == "gap":
            missed = await chains.missing(partition, offset, message[2])
            if missed is None:
                return False
            for at, body in missed:
                await _fold(detector, partition, at, partials.decode(body), now)
                chains.acknowledge(partition, at)
        await _fold(detector, partition, offset, message, now)
        return True


async def _fold(
    detector: Detector, partition: int, offset: int, message: partials.Decoded, now: float
) -> None:
    """Apply one message, unless applied before; a gap before it is given up (everything
    before it was read)."""
    settings = detector.settings
    items, caught_up, span = message
    detector.progress.heard(partition, caught_up, now)
    if detector.fold_chains.admit(partition, offset, span, True) == "skip":
        return
    detector.lifecycles.begin()
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
    chain = detector.fold_chains.applied(partition, offset, span)
    if chain is not None:
        await _written(detector.chains, partition, {chains_table.key(partition): chain})


async def _durable(
    detector: Detector, partition: int, changed: list[tuple[str, OperationWindows]]
) -> None:
    """Write the new values and wait until the changelog has them. The lifecycles'
    writes first: the counts mark the batch applied, so they must not be stored alone;
    the chain after them, for the same reason."""
    await detector.lifecycles.durable()
    await _written(detector.counts, partition, {op: counts_table.encode(s) for op, s in changed})


async def _written(table: Any, partition: int, pending: dict[str, Any]) -> None:
    """Put the values and wait until the changelog has them; a failed write is sent
    again (the message is not acknowledged before), never skipped."""
    while pending:
        sent = {key: put(table, partition, key, v) for key, v in pending.items()}
        results = await asyncio.gather(*sent.values(), return_exceptions=True)
        failed = {op for op, r in zip(sent, results, strict=True) if isinstance(r, Exception)}
        if failed:
            log.warning(
                "writing %d keys of %s to the changelog failed; retrying in %.0f s",
                len(failed),
                table.name,
                _RETRY_SECONDS,
            )
            await asyncio.sleep(_RETRY_SECONDS)
        pending = {op: v for op, v in pending.items() if op in failed}
