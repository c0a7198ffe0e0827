"""Long loops over operations give the event loop a turn now and then.

The fold agent judges operation after operation of a batch; with thousands of
operations new at once (an id put into the operation name) one batch took seconds, in
which /healthz, /metrics, the dashboard and the ingest stage got no answer at all. It
calls ``turn()`` between operations, which yields every ``SLICE`` seconds. While it
(or the evaluator, which yields too) is judging, it holds ``Detector.judging``: one
judge at a time, so neither judges from the other's half-written state.
"""

from __future__ import annotations

import asyncio
import time

SLICE = 0.05  # Seconds of work between turns: other tasks wait at most about this long.


class Pacer:
    def __init__(self, slice_seconds: float = SLICE) -> None:
        self.slice = slice_seconds
        self.since = time.perf_counter()

    async def turn(self) -> None:
        """Let other tasks run if this one has worked for a slice since its last turn."""
        if time.perf_counter() - self.since >= self.slice:
            await asyncio.sleep(0)
            self.since = time.perf_counter()
