"""Repeated warnings and errors, rate-limited in the log with a count.

While the broker is down, aiokafka and Faust log the same failure dozens of times a
second (some 200 lines a second measured), which buries everything else. The first of a
kind (same logger, level and message) goes through; repeats within ``interval`` are held
back and counted, and said with their count by the next one after it or by ``flush``
(a timer), whichever comes first: ``...; 412 similar in the last 60 s``. So a kind takes
at most one line an interval, and no held-back repeat goes unmentioned.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

Key = tuple[str, int, str]
MAX_KINDS = 1000  # Kinds remembered; a flood of distinct messages starts over.
SUMMARY = "repeats_summary"  # Attribute of the records flush() logs: not held back.


class Repeats(logging.Filter):
    def __init__(self, interval: float = 60.0, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.interval = interval
        self.clock = clock
        # Kind -> (window start, held back, the last held back).
        self.kinds: dict[Key, tuple[float, int, logging.LogRecord | None]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or getattr(record, SUMMARY, False):
            return True
        key = (record.name, record.levelno, record.getMessage()[:500])
        now = self.clock()
        start, held, _ = self.kinds.get(key, (None, 0, None))
        if start is not None and now - start < self.interval:
            self.kinds[key] = (start, held + 1, record)
            return False
        if len(self.kinds) >= MAX_KINDS:
            self.kinds.clear()
        self.kinds[key] = (now, 0, None)
        if held:
            record.msg = f"{record.msg}; {held} similar in the last {self.interval:.0f} s"
        return True

    def flush(self) -> None:
        """Say the repeats held back in windows that are over, and start new windows:
        a failure that stops before its next line (the broker is back) is still told."""
        now = self.clock()
        for key, (start, held, last) in list(self.kinds.items()):
            if held and last is not None and now - start >= self.interval:
                self.kinds[key] = (now, 0, None)
                logging.getLogger(last.name).log(
                    last.levelno,
                    "%s; %d similar in the last %.0f s",
                    last.getMessage(),
                    held,
                    now - start,
                    extra={SUMMARY: True},
                )


def quiet_repeats(repeats: Repeats) -> None:
    """Rate-limit repeats on every handler of the root logger (call once logging is set up)."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(repeats)
