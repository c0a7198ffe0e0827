"""Exponential backoff with jitter for temporary failures.

The wait is stored with the recipient's state (``grouping.failed``), not slept in
place, so a retry neither blocks other recipients nor is forgotten by a restart.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Backoff:
    initial: float
    maximum: float
    give_up_after: int
    random: Callable[[], float] = field(default=random.random)

    def delay(self, attempt: int) -> float | None:
        """Seconds before attempt ``attempt + 1`` (``attempt`` failed, counted from 0);
        None once the failures in a row reach ``give_up_after``."""
        if attempt + 1 >= self.give_up_after:
            return None
        ceiling = min(self.maximum, self.initial * 2.0 ** min(attempt, 60))
        # "Equal jitter": at least half the ceiling, so retries spread but still back off.
        return ceiling / 2 + self.random() * ceiling / 2
