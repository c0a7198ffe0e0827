"""``/metrics`` on the worker's web port, in the Prometheus text format, and the gauges
derived from table state at scrape time (client_python's custom-collector pattern)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from tables.counts import OperationWindows

if TYPE_CHECKING:
    from agents.app import Detector


class WindowCollector(Collector):
    """Calls, errors and retries per operation in the windows this worker holds (the
    retention, one hour by default): state recovered from the changelog, unlike the
    ``_total`` counters, which restart at zero with the process."""

    def __init__(self, counts: Any) -> None:
        self._counts = counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        labels = ["operation", "integration"]
        families = {
            kind: GaugeMetricFamily(
                f"detector_window_{kind}",
                f"{kind.capitalize()} per operation in the retained event-time windows.",
                labels=labels,
            )
            for kind in ("calls", "errors", "retries")
        }
        for operation, value in list(self._counts.data.items()):
            if value is None:
                continue
            state = OperationWindows.from_value(value)
            sums = [0, 0, 0]
            for w in state.windows.values():
                sums[0] += w.calls
                sums[1] += w.errors
                sums[2] += w.retries
            label_values = [operation, state.integration or ""]
            for family, total in zip(families.values(), sums, strict=True):
                family.add_metric(label_values, total)
        yield from families.values()


def register(detector: Detector) -> None:
    registry = detector.registry
    registry.register(WindowCollector(detector.counts))

    async def metrics(_request: web.Request) -> web.Response:
        response = web.Response(body=generate_latest(registry))
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    web_app: web.Application = detector.app.web.web_app  # type: ignore[attr-defined]
    web_app.router.add_get("/metrics", metrics)
