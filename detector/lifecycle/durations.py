"""How long an operation's events normally take from first sight to outcome: a small
log-scale histogram, JSON-able, from which the stuck threshold is learned."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

BUCKETS = 96  # Bucket i >= 1 holds [2^((i-1)/4), 2^(i/4)) seconds: up to 2^23.75 s.
STEP = math.log(2) / 4
HALVE_AT = 20_000  # Older samples fade: counts are halved when they reach this total.
MIN_SAMPLES = 100  # Fewer finished events than this: nothing learned yet.
FACTOR = 20  # An event is stuck after this many times the operation's p99.
FLOOR, CAP = 300, 900  # ... but never before 5 minutes nor after 15 (the seeds' promise).


@dataclass(slots=True)
class Durations:
    counts: list[int] = field(default_factory=lambda: [0] * BUCKETS)
    total: int = 0

    def add(self, seconds: float) -> None:
        i = 0 if seconds < 1 else min(BUCKETS - 1, int(math.log(seconds) / STEP) + 1)
        self.counts[i] += 1
        self.total += 1
        if self.total >= HALVE_AT:
            self.counts = [(c + 1) // 2 for c in self.counts]
            self.total = sum(self.counts)

    def quantile(self, q: float) -> float:
        """The upper edge of the bucket holding the q-quantile, in seconds."""
        rank, seen = q * self.total, 0
        for i, c in enumerate(self.counts):
            seen += c
            if seen >= rank and c:
                return math.exp(i * STEP)
        return math.exp((BUCKETS - 1) * STEP)

    def stuck_after(self, configured: int | None) -> int:
        """Seconds in received or processing after which an event is stuck."""
        if configured is not None:
            return configured
        if self.total < MIN_SAMPLES:
            return CAP
        return int(min(CAP, max(FLOOR, FACTOR * self.quantile(0.99))))

    def to_list(self) -> list[int]:
        return self.counts

    @classmethod
    def from_list(cls, counts: list[int]) -> Durations:
        return cls(list(counts), sum(counts))
