"""Window arithmetic and batch aggregation agree with a plain Python count."""

from __future__ import annotations

import random
from collections import Counter

from detector.windows import MAX_ERROR_CODES, Batch, WindowCounts, aggregate, window_start


def test_window_start_is_floor() -> None:
    assert [window_start(t, 60) for t in (0, 59.999, 60, 119, 120.5)] == [0, 0, 60, 60, 120]


def test_aggregate_matches_a_plain_count() -> None:
    rng = random.Random(7)
    batch = Batch()
    expected: Counter[tuple[str, int, str]] = Counter()
    for _ in range(5000):
        op = rng.choice(["A", "B", "C.D"])
        ts = rng.uniform(0, 600)
        calls = rng.randint(1, 3)
        errors = rng.randint(0, calls)
        batch.append(op, ts, calls, errors, 0)
        start = int(ts // 60) * 60
        expected[(op, start, "calls")] += calls
        expected[(op, start, "errors")] += errors
    for (op, start), counts in aggregate(batch, 60).items():
        assert counts.calls == expected[(op, start, "calls")]
        assert counts.errors == expected[(op, start, "errors")]
    assert sum(c.calls for c in aggregate(batch, 60).values()) == sum(batch.calls)


def test_error_codes_are_bounded() -> None:
    counts = WindowCounts()
    for i in range(MAX_ERROR_CODES + 3):
        counts.add_codes({f"E{i}": 1})
    assert len(counts.error_codes) == MAX_ERROR_CODES + 1
    assert counts.error_codes["other"] == 3
    assert WindowCounts.from_list(counts.to_list()) == counts


def test_aggregate_sums_are_exact_integers() -> None:
    """Float sums round above 2^53 (and wrapped to negative counts once): int64 is exact."""
    batch = Batch()
    for _ in range(9):
        batch.append("A", 60.0, 10**18, 10**18 - 1, 0)
    batch.append("A", 60.0, 1, 0, 1)
    (counts,) = aggregate(batch, 60).values()
    assert (counts.calls, counts.errors, counts.retries) == (9 * 10**18 + 1, 9 * 10**18 - 9, 1)
