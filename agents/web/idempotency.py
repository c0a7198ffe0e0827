"""Resends of one HTTP ingest request, told by its ``Idempotency-Key`` header, written
to Kafka once.

A request Kafka did not acknowledge in time gets 503, but its write goes on; a client
that sends it again would have it counted twice. With a key, the worker remembers the
request (a digest of its body, the time it was read, which of its records Kafka has not
acknowledged yet, and its answer once all are): a resend waits for the write still
under way, writes only what was not acknowledged, or gets the first answer back, and
a key sent again with another body is refused. Remembered per producer, in this
worker's memory, for ``KEEP_SECONDS`` and at most ``MOST_KEYS`` keys: a resend to
another worker, or after a restart, is written again (at-least-once, as without a key).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

KEEP_SECONDS = 3600.0
MOST_KEYS = 10_000
HEADER = "Idempotency-Key"
_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")


def valid_key(key: str) -> bool:
    """1 to 200 printable ASCII characters without spaces (a UUID, a request id)."""
    return _KEY.match(key) is not None


@dataclass(slots=True)
class Attempt:
    """One request and its resends."""

    digest: bytes  # Of the body: the same key with another body is a client's mistake.
    now: float  # When first read: records without a timestamp get the same one again.
    # Records (messages, then dead letters) Kafka has not acknowledged; None: all.
    left: set[int] | None = None
    answer: tuple[int, bytes] | None = None  # (status, body) once every record is written.
    writing: asyncio.Task[None] | None = None
    at: float = field(default_factory=time.monotonic)


class Attempts:
    """The remembered requests by (producer, key), oldest first."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._by_key: OrderedDict[tuple[str, str], Attempt] = OrderedDict()

    def find(self, producer: str, key: str) -> Attempt | None:
        self._expire()
        return self._by_key.get((producer, key))

    def add(self, producer: str, key: str, attempt: Attempt) -> None:
        attempt.at = self._clock()
        self._by_key[producer, key] = attempt
        while len(self._by_key) > MOST_KEYS:
            self._by_key.popitem(last=False)

    def _expire(self) -> None:
        oldest = self._clock() - KEEP_SECONDS
        while self._by_key:
            first = next(iter(self._by_key.values()))
            if first.at >= oldest:
                break
            self._by_key.popitem(last=False)
