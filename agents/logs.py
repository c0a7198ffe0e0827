"""Repeated warnings and errors, rate-limited in the log with a count.

While the broker is down, aiokafka and Faust log the same failure dozens of times a
second, which buries everything else. The first of a kind (same logger, level and
message) goes through; repeats within ``interval`` are held back and counted,
and the next one after it says how many were held: ``...; 412 similar in the last 60 s``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

Key = tuple[str, int, str]
MAX_KINDS = 1000  # Kinds remembered; a flood of distinct messages starts over.


class Repeats(logging.Filter):
    def __init__(self, interval: float = 60.0, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.interval = interval
        self.clock = clock
        self.kinds: dict[Key, tuple[float, int]] = {}  # Kind -> (window start, held back).

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, record.levelno, record.getMessage()[:500])
        now = self.clock()
        start, held = self.kinds.get(key, (None, 0))
        if start is not None and now - start < self.interval:
            self.kinds[key] = (start, held + 1)
            return False
        if len(self.kinds) >= MAX_KINDS:
            self.kinds.clear()
        self.kinds[key] = (now, 0)
        if held:
            record.msg = f"{record.msg}; {held} similar in the last {self.interval:.0f} s"
        return True


def quiet_repeats(interval: float = 60.0) -> None:
    """Rate-limit repeats on every handler of the root logger (call once logging is set up)."""
    repeats = Repeats(interval)
    for handler in logging.getLogger().handlers:
        handler.addFilter(repeats)
