"""The ``window-counts`` table: one ``detector.windows.OperationWindows`` value per operation.

Keyed by operation, so an operation's counts live in the partition its events are routed
to. One value holds all windows of the operation still within the retention, so an
ingest batch writes one changelog record per operation, not per window.
"""

from __future__ import annotations

from typing import Any

from detector.windows import OperationWindows
from tables import codec, packed

NAME = "window-counts"
LAYOUT = packed.WINDOW_COUNTS


def declare(app: Any, partitions: int) -> Any:
    return codec.keyed_table(
        app,
        NAME,
        partitions,
        "Per-operation window counts of calls, errors and retries.",
        packed=True,
    )


def encode(windows: OperationWindows) -> bytes:
    return packed.pack(LAYOUT, windows.to_value())


def decode(raw: bytes) -> OperationWindows:
    """A stored value; ``ValueError`` (or ``zlib.error``) for anything else."""
    return OperationWindows.from_value(packed.unpack(LAYOUT, raw))


def where(raw: bytes) -> tuple[int, float | None, str | None]:
    """(partition, newest call, integration), read from the header."""
    (partition, last, *_), integration = packed.head(LAYOUT, raw)
    return partition, packed.number(last), integration
