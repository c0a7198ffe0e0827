"""Freed memory handed back to the operating system after a large evaluation.

Judging thousands of operations decodes and deflates each one's state: transient
buffers (a deflate state is about 256 KiB) between the long-lived table values. glibc
keeps the freed pages inside its heap, so a worker's resident memory stays at the peak
of its busiest evaluation; ``malloc_trim`` returns the free pages (about a fifth of
what 20,000 new operations grew the worker by, measured with ``bench/worker_memory.py``).
Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable

TRIM_AFTER = 1_000  # Operations judged in one evaluation that make it worth a trim.
TRIM_EVERY = 60.0  # Seconds at least between trims.


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):  # Not glibc (musl, macOS): nothing to call.
        return None
    return trim


class Trimmer:
    def __init__(self, trim: Callable[[int], int] | None = None) -> None:
        self._trim = trim if trim is not None else _malloc_trim()
        self._last: float | None = None

    def after(self, judged: int, now: float) -> bool:
        """After an evaluation that judged ``judged`` operations: trim if it was large
        and the last trim is ``TRIM_EVERY`` seconds old; whether it did."""
        if self._trim is None or judged < TRIM_AFTER:
            return False
        if self._last is not None and now - self._last < TRIM_EVERY:
            return False
        self._last = now
        self._trim(0)
        return True
