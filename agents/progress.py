"""Where a partition of the calls topic stands: caught up with the broker, or reading a
backlog. The evaluator judges windows by wall clock only when caught up; while a backlog
is being read it follows the event time already read, exactly as offline replay does."""

from __future__ import annotations

from typing import Any


def fetched_all(consumer: Any, tp: Any) -> bool:
    """True when every message of ``tp`` up to the broker's high-water mark was fetched."""
    try:
        highwater = consumer.highwater(tp)
    except Exception:  # Not assigned (yet) or no metadata: not known to be caught up.
        return False
    if highwater is None:
        return False
    if highwater == 0:
        return True
    # Faust keeps the offset of the last message read (or the committed position after
    # a seek) per partition; there is no public accessor for it.
    read = consumer._read_offset.get(tp)
    return read is not None and read >= highwater - 1


class CatchUp:
    """Caught up = everything fetched, at two checks at least ``settle`` seconds apart.

    Fetched is not yet counted: a fetched message may still wait in the agent's batch.
    A batch is processed within a fraction of a second, so a state that held across two
    evaluation ticks means everything fetched has been counted too.
    """

    def __init__(self, settle: float) -> None:
        self.settle = settle
        self._since: dict[Any, float] = {}

    def check(self, tp: Any, all_fetched: bool, now: float) -> bool:
        if not all_fetched:
            self._since.pop(tp, None)
            return False
        since = self._since.setdefault(tp, now)
        return now - since >= self.settle
