"""The evaluator judges by wall clock only once the ingest said, lately, that it read
every source partition to its end."""

from __future__ import annotations

from agents.progress import CatchUp, IngestProgress


def test_caught_up_needs_every_source_read_and_a_fresh_word() -> None:
    progress = IngestProgress()
    assert not progress.caught_up(0, 100.0, 15.0)  # Nothing heard since the start.
    progress.heard(0, {0: True, 1: False}, 100.0)
    assert not progress.caught_up(0, 101.0, 15.0)
    progress.heard(0, {1: True}, 102.0)
    assert progress.caught_up(0, 103.0, 15.0)
    assert not progress.caught_up(0, 118.0, 15.0)  # The ingest has gone quiet.
    assert not progress.caught_up(1, 103.0, 15.0)


def test_catch_up_must_hold_over_the_settle_time() -> None:
    catch_up = CatchUp(5.0)
    assert not catch_up.check(0, True, 100.0)
    assert catch_up.check(0, True, 105.0)
    assert not catch_up.check(0, False, 106.0)
    assert not catch_up.check(0, True, 107.0)
