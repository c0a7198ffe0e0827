"""Changelog records that fail to decode are quarantined, never a crash loop.

A table record that is corrupt, hand-written or from an incompatible build would raise
on every use, and a worker that crashes on it restores it again after the restart. Here
it is kept out of use instead: the caller gets None (as if the key were absent, so the
next write for the key replaces it), the failure is logged once per key with what to
do, and counted in ``detector_quarantined_records_total{table}``. Records that are not
even JSON, or whose key is not a string, are kept out of the table as it is restored
(``tables.codec.CheckedTable``) and reported here the same way.
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
            if self._first(table, repr(key[:200])):
                log.error(
                    "quarantined the %s record of %r: %s: %s. It is skipped (the operation "
                    "starts afresh there); the next write for the key replaces it",
                    table,
                    key[:200],
                    type(exc).__name__,
                    str(exc)[:300],
                )
            return None

    def restored(self, table: str, key: str, why: str) -> None:
        """A changelog record kept out of ``table`` as it was restored (``key`` as text)."""
        if self._first(table, key):
            log.error(
                "quarantined a record of the %s changelog with key %s: %s. It is skipped "
                "at every restore; a key that is not a JSON string is never written again, "
                "so remove it with a tombstone (the same key, a null value)",
                table,
                key,
                why,
            )

    def _first(self, table: str, key: str) -> bool:
        """Count the record; whether it is the first for the key (to be logged)."""
        seen = self.keys.setdefault(table, set())
        if key in seen:
            return False
        if len(seen) < MAX_KEYS:
            seen.add(key)
        self.counter.labels(table).inc()
        return True
