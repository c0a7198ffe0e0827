"""Where the ingest reads a partition it keeps again (after a rebalance or a failed batch):
never before what it has itself committed there, or a batch would be counted twice."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from agents.ingest import resume_at

offsets = st.none() | st.integers(min_value=0, max_value=2**40)


def test_a_commit_the_group_does_not_show_yet_is_not_read_again() -> None:
    assert resume_at(committed=1_000, own=1_250) == 1_250


def test_the_group_offset_when_this_worker_committed_nothing_there() -> None:
    assert resume_at(committed=1_000, own=None) == 1_000
    assert resume_at(committed=None, own=None) is None  # From the start.


def test_its_own_commit_when_the_group_shows_none_yet() -> None:
    assert resume_at(committed=None, own=40) == 40


@given(offsets, offsets)
def test_never_before_either_commit(committed: int | None, own: int | None) -> None:
    at = resume_at(committed, own)
    known = [o for o in (committed, own) if o is not None]
    assert at == (max(known) if known else None)
