"""Changelog records that fail to decode are quarantined, never a crash loop.

A table record that is corrupt, hand-written or from an incompatible build would raise
on every use, and a worker that crashes on it restores it again after the restart. Here
it is kept out of use instead: the caller gets None (as if the key were absent, so the
next write for the key replaces it), the failure is logged once per key with what to
do, and counted in ``detector_quarantined_records_total{table}``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from prometheus_client import Counter

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_KEYS = 10_000  # Keys remembered per table for the once-per-key log; then count only.


class Quarantine:
    def __init__(self, counter: Counter) -> None:
        self.counter = counter
        self.keys: dict[str, set[str]] = {}

    def decode(self, table: str, key: str, raw: Any, decode: Callable[[Any], T]) -> T | None:
        try:
            return decode(raw)
        except Exception as exc:  # Whatever is wrong with a stored record, it costs only itself.
            self._report(table, key, exc)
            return None

    def _report(self, table: str, key: str, exc: Exception) -> None:
        seen = self.keys.setdefault(table, set())
        if key in seen:
            return
        if len(seen) < MAX_KEYS:
            seen.add(key)
        self.counter.labels(table).inc()
        log.error(
            "quarantined the %s record of %r: %s: %s. It is skipped (the operation "
            "starts afresh there); the next write for the key replaces it",
            table,
            key[:200],
            type(exc).__name__,
            str(exc)[:300],
        )
