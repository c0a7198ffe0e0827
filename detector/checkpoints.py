"""When an operation's judged state goes to the changelogs: at a status change, and
otherwise once per checkpoint interval, not at every window end.

Writing every operation's model, summary and lifecycle at every window end costs three
changelog records per operation per window: at 100,000 operations that is more than
Faust's producer sends on a small machine, and its buffer grew by gigabytes. Between
checkpoints the state lives in memory only; a restarted worker restores the last
checkpoint and judges the windows since again from the retained window counts, which
gives the same state (judging is deterministic) and publishes nothing twice (a change
is always stored with the state that published it). Operations are spread over the
interval by a stable hash of their name, so the writes are even, not a burst.
"""

from __future__ import annotations

from zlib import crc32


def interval(checkpoint_seconds: int, window_seconds: int, retention_seconds: int) -> int:
    """Windows between checkpoints: at least one, and at most half the retention (a
    restarted worker must still find every window since the last checkpoint)."""
    most = min(checkpoint_seconds, retention_seconds // 2)
    return max(1, most // window_seconds)


def due(operation: str, before: int | None, after: int, window_seconds: int, every: int) -> bool:
    """Whether judging ``operation`` from boundary ``before`` (None: never judged) to
    ``after`` passes one of its checkpoints, every ``every`` windows."""
    if before is None or every <= 1:
        return True
    offset = crc32(operation.encode()) % every
    return (before // window_seconds + offset) // every != (
        after // window_seconds + offset
    ) // every
