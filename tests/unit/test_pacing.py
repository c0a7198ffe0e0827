"""A long loop over operations gives other tasks (the web server, the ingest stage) a
turn every slice of work, not only when it is done."""

from __future__ import annotations

import asyncio
import time

from agents.pacing import Pacer


async def _ticks_during(work: float, pacer: Pacer | None) -> int:
    ticks = 0
    done = False

    async def ticker() -> None:
        nonlocal ticks
        while not done:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    ticks = 0
    until = time.perf_counter() + work
    while time.perf_counter() < until:  # Operation after operation, 1 ms each.
        step = time.perf_counter() + 0.001
        while time.perf_counter() < step:
            pass
        if pacer is not None:
            await pacer.turn()
    seen, done = ticks, True
    await task
    return seen


async def test_other_tasks_get_a_turn_every_slice() -> None:
    assert await _ticks_during(0.3, None) == 0  # Without turns the loop is held throughout.
    assert await _ticks_during(0.3, Pacer(0.05)) >= 4
