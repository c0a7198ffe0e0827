"""/metrics is rendered off the event loop, and scrapes close together share a render."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from agents.web_metrics import Render


class Slow(Collector):
    """A collector as slow as a large worker's: 0.3 s per render, counted."""

    def __init__(self) -> None:
        self.renders = 0

    def collect(self) -> Iterator[GaugeMetricFamily]:
        self.renders += 1
        time.sleep(0.3)
        yield GaugeMetricFamily("renders", "Renders so far.", value=self.renders)


async def test_a_slow_render_leaves_the_loop_free_and_is_shared() -> None:
    registry = CollectorRegistry()
    slow = Slow()
    registry.register(slow)
    render = Render(registry, fresh=1.0)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticker = asyncio.create_task(tick())
    first, second = await asyncio.gather(render.body(10.0), render.body(10.5))
    assert ticks >= 5  # The loop kept running while the collector worked.
    assert first == second
    assert slow.renders == 1
    later = await render.body(11.5)  # Past ``fresh``: rendered again.
    ticker.cancel()
    assert slow.renders == 2
    assert b"renders 2.0" in later
