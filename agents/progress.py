"""Where the ingest stands, as the fold agent hears it: per partition of the partials
topic, whether the ingest has read every partition of the calls topic to its end.

The evaluator judges windows by wall clock only when caught up; while a backlog is read
it follows the event time already read, exactly as offline replay does. The ingest says
where it stands after its batches and at least every evaluation interval, in the same
partitions as its partial counts: a fresh "caught up" heard on a partition means every
partial sent before it on that partition is already folded. Nothing heard lately (the
ingest is gone or far behind) is not caught up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class IngestProgress:
    # Partials partition -> (source partition -> read to its end?).
    flags: dict[int, dict[int, bool]] = field(default_factory=dict)
    heard_at: dict[int, float] = field(default_factory=dict)

    def heard(self, partition: int, flags: dict[int, bool], now: float) -> None:
        self.flags.setdefault(partition, {}).update(flags)
        if flags:
            self.heard_at[partition] = now

    def caught_up(self, partition: int, now: float, fresh: float) -> bool:
        """Everything read and folded, as heard within the last ``fresh`` seconds."""
        flags = self.flags.get(partition)
        if not flags or now - self.heard_at.get(partition, 0.0) > fresh:
            return False
        return all(flags.values())


@dataclass
class CatchUp:
    """Caught up at two checks at least ``settle`` seconds apart: a state that held over
    an evaluation tick, not a moment between two batches."""

    settle: float
    since: dict[int, float] = field(default_factory=dict)

    def check(self, partition: int, caught_up: bool, now: float) -> bool:
        if not caught_up:
            self.since.pop(partition, None)
            return False
        since = self.since.setdefault(partition, now)
        return now - since >= self.settle


def recovered(app: Any) -> bool:
    """Whether the worker's tables are restored from their changelogs (not recovering)."""
    recovery = app.tables.recovery
    return bool(recovery.completed.is_set() and not recovery.in_recovery)
