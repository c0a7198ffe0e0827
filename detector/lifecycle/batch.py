"""A decoded batch run through its operations' lifecycles, in record order, as replay
runs a file: followed events get the counts their lifecycle gives them."""

from __future__ import annotations

from collections.abc import Callable

from detector.ingest import DecodedBatch
from detector.lifecycle.tracker import Lifecycle, Policy


def follow(decoded: DecodedBatch, lifecycle_of: Callable[[str], tuple[Lifecycle, Policy]]) -> None:
    """Feed every counted record of the batch to its operation's lifecycle; rewrite the
    counts of records that belong to followed events (one call per event)."""
    batch = decoded.batch
    names, codes = batch.names, decoded.codes
    for i, op in enumerate(batch.ops):
        operation = names[op]
        life, policy = lifecycle_of(operation)
        ts = batch.timestamps[i]
        call = decoded.followed.get(i)
        if call is None:
            code, message = codes.get(i, (None, None))
            life.count(ts, batch.calls[i], batch.errors[i], batch.retries[i], code, message, policy)
            continue
        calls, errors, retries = life.observe(call, policy)
        batch.calls[i], batch.errors[i], batch.retries[i] = calls, errors, retries
        if errors:
            batch.error_codes.append((operation, ts, call.error_code or "unknown", errors))
