"""Freed memory is handed back after large evaluations only, at most once a minute."""

from __future__ import annotations

from agents.trim import TRIM_AFTER, TRIM_EVERY, Trimmer, _malloc_trim


def test_trims_after_large_evaluations_at_most_once_a_minute() -> None:
    calls: list[int] = []
    trimmer = Trimmer(lambda pad: calls.append(pad) or 1)
    assert not trimmer.after(TRIM_AFTER - 1, 0.0)
    assert trimmer.after(TRIM_AFTER, 0.0)
    assert not trimmer.after(50_000, TRIM_EVERY - 1)
    assert trimmer.after(50_000, TRIM_EVERY)
    assert calls == [0, 0]


def test_glibc_trim_is_found_and_runs() -> None:
    trim = _malloc_trim()
    assert trim is not None  # The worker's images and CI run on glibc.
    assert trim(0) in (0, 1)
