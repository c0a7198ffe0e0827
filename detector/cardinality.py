"""How many operations a worker tracks: caps per worker and per integration.

Every operation costs memory, table records, metric series and a dashboard row, so a
producer that puts an id into the operation name (50,000 names in minutes) must not
grow the worker without bound. Operations already tracked always pass; a new one passes
while there is room under both caps; the rest are refused with a reason for the dead
letter (``too_many_operations``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(slots=True)
class Roster:
    max_operations: int
    max_per_integration: int
    operations: dict[str, str | None] = field(default_factory=dict)
    per_integration: Counter[str | None] = field(default_factory=Counter)

    def sync(self, tracked: Iterable[tuple[str, str | None]]) -> None:
        """Start over from the operations the worker holds (its tables)."""
        self.operations = dict(tracked)
        self.per_integration = Counter(self.operations.values())

    def drop(self, operation: str) -> None:
        """An operation forgotten (idle, evicted): its place is free again."""
        if operation in self.operations:
            integration = self.operations.pop(operation)
            self.per_integration[integration] -= 1
            if not self.per_integration[integration]:
                del self.per_integration[integration]

    def refuse(
        self, operations: Iterable[str], integrations: Mapping[str, str | None]
    ) -> dict[str, str]:
        """Admit what fits, in order; ``{operation: why}`` for the new ones that do not."""
        refused = {}
        for operation in operations:
            if operation in self.operations:
                continue
            integration = integrations.get(operation)
            why = self._full(integration)
            if why is not None:
                refused[operation] = why
                continue
            self.operations[operation] = integration
            self.per_integration[integration] += 1
        return refused

    def _full(self, integration: str | None) -> str | None:
        if len(self.operations) >= self.max_operations:
            return (
                f"this worker already tracks {len(self.operations)} operations "
                "(DETECTOR_MAX_OPERATIONS); is an id part of the operation name?"
            )
        if self.per_integration[integration] >= self.max_per_integration:
            return (
                f"integration {integration or '(none)'!r:.80} already has "
                f"{self.per_integration[integration]} operations "
                "(DETECTOR_MAX_OPERATIONS_PER_INTEGRATION); is an id part of the operation name?"
            )
        return None


def idle(last_call_at: float | None, now: float, idle_seconds: float) -> bool:
    """Whether an operation has gone without a call long enough to be forgotten
    (``DETECTOR_IDLE_DAYS``): a renamed or retired operation should not hold a place,
    a table record and metric series for ever."""
    return last_call_at is not None and now - last_call_at > idle_seconds
