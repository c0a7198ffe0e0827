"""The ``window-counts`` table: one ``detector.windows.OperationWindows`` value per operation.

Keyed by operation, so an operation's counts live in the partition its events are routed
to. One value holds all windows of the operation still within the retention, so an
ingest batch writes one changelog record per operation, not per window.
"""

from __future__ import annotations

from typing import Any

from tables import codec

NAME = "window-counts"


def declare(app: Any, partitions: int) -> Any:
    return codec.keyed_table(
        app, NAME, partitions, "Per-operation window counts of calls, errors and retries."
    )
