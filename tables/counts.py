"""Per-operation event-time window counts: the ``window-counts`` table.

Keyed by operation (the calls topic's key), so an operation's counts live in the same
partition as its events. One value holds all windows of the operation still within the
retention, so an ingest batch writes one changelog record per operation, not per window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from detector.windows import WindowCounts
from tables import codec

NAME = "window-counts"


@dataclass(slots=True)
class OperationWindows:
    partition: int
    integration: str | None = None
    windows: dict[int, WindowCounts] = field(default_factory=dict)
    last_call_at: float | None = None

    @property
    def newest(self) -> int | None:
        return max(self.windows) if self.windows else None

    def horizon(self, retention: int) -> int | None:
        """Windows starting before this are closed for good; their events are late."""
        newest = self.newest
        return None if newest is None else newest - retention

    def merge(self, start: int, counts: WindowCounts) -> None:
        current = self.windows.get(start)
        if current is None:
            self.windows[start] = counts
        else:
            current.add(counts.calls, counts.errors, counts.retries)
            current.add_codes(counts.error_codes)

    def expire(self, retention: int) -> None:
        horizon = self.horizon(retention)
        if horizon is not None:
            self.windows = {s: w for s, w in self.windows.items() if s >= horizon}

    def to_value(self) -> dict[str, Any]:
        return {
            "p": self.partition,
            "i": self.integration,
            "t": self.last_call_at,
            "w": {str(s): w.to_list() for s, w in self.windows.items()},
        }

    @classmethod
    def from_value(cls, value: dict[str, Any]) -> OperationWindows:
        windows = {int(s): WindowCounts.from_list(w) for s, w in value["w"].items()}
        return cls(int(value["p"]), value.get("i"), windows, value.get("t"))


def declare(app: Any, partitions: int) -> Any:
    return codec.keyed_table(
        app, NAME, partitions, "Per-operation window counts of calls, errors and retries."
    )
