"""``/metrics`` on the worker's web port, in the Prometheus text format, and the gauges
derived from table state at scrape time (client_python's custom-collector pattern)."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from agents.quarantine import Quarantine
from agents.web.auth import open_route, require_bearer
from detector.listing import PROBLEM_VALUES
from detector.status import Status
from tables import counts as counts_table
from tables import models as models_table
from tables import packed
from tables import summaries as summaries_table
from tables.writes import PENDING_MOST

if TYPE_CHECKING:
    from agents.context import Detector

_LABELS = ["operation", "integration"]


class WindowCollector(Collector):
    """Calls, errors and retries per operation in the windows this worker holds (the
    retention, one hour by default): state recovered from the changelog, unlike the
    ``_total`` counters, which restart at zero with the process."""

    def __init__(self, counts: Any, quarantine: Quarantine, max_operations: int) -> None:
        self._counts = counts
        self._restore = quarantine.decode
        self._max = max_operations

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families = [
            GaugeMetricFamily(
                f"detector_window_{kind}",
                f"{kind.capitalize()} per operation in the retained event-time windows.",
                labels=_LABELS,
            )
            for kind in ("calls", "errors", "retries")
        ]
        items = list(self._counts.data.items())
        # Past the series budget: one series per integration (operation=""), not per operation.
        per_operation = len(items) <= self._max
        totals: dict[tuple[str, str], list[int]] = {}
        for operation, raw in items:
            if raw is None:
                continue
            # The sums are in the packed header: nothing is inflated.
            head = self._restore(counts_table.NAME, operation, raw, _window_sums)
            if head is None:
                continue  # Quarantined: logged once and counted there.
            sums, integration = head
            labels = (operation if per_operation else "", integration or "")
            acc = totals.setdefault(labels, [0, 0, 0])
            for i in range(3):
                acc[i] += sums[i]
        for labels, acc in totals.items():
            for family, total in zip(families, acc, strict=True):
                family.add_metric(list(labels), total)
        yield from families


class StatusCollector(Collector):
    """Per operation owned by this worker: its status (one series per status, 1 for the
    current one), the calls observed vs expected over the last hour, the error ratio of
    the last 15 minutes vs the learned normal one; per worker, the
    end of the newest window judged, which stops moving when judging stalls."""

    def __init__(
        self, counts: Any, summaries: Any, models: Any, quarantine: Quarantine, max_operations: int
    ) -> None:
        self._max = max_operations
        self._counts = counts
        self._summaries = summaries
        self._models = models
        self._quarantine = quarantine
        self._restore = quarantine.decode

    def collect(self) -> Iterator[GaugeMetricFamily]:
        status = GaugeMetricFamily(
            "detector_operation_status",
            "1 for the operation's current status, 0 for the others.",
            labels=[*_LABELS, "status"],
        )
        observed = GaugeMetricFamily(
            "detector_operation_observed_calls", "Calls in the last hour.", labels=_LABELS
        )
        expected = GaugeMetricFamily(
            "detector_operation_expected_calls",
            "Calls expected in the last hour by the learned baseline (low estimate).",
            labels=_LABELS,
        )
        ratio = GaugeMetricFamily(
            "detector_operation_error_ratio",
            "Errors / calls over the last 15 minutes (absent without calls).",
            labels=_LABELS,
        )
        normal = GaugeMetricFamily(
            "detector_operation_expected_error_ratio",
            "The operation's learned normal error ratio (absent while learning).",
            labels=_LABELS,
        )
        tally = GaugeMetricFamily(
            "detector_operations",
            "Operations owned by this worker, by integration and status.",
            labels=["integration", "status"],
        )
        operations = list(self._counts.data)
        # Past the series budget, only operations with a problem get their own series
        # (at most the budget), the rest are in ``detector_operations``.
        budget = len(operations) if len(operations) <= self._max else 0
        problems = 0
        statuses: dict[tuple[str, str], int] = {}
        summaries = self._summaries.data
        for operation in operations:
            raw = summaries.get(operation)
            if raw is None:
                continue
            # Everything here is in the packed header: nothing is inflated.
            head = self._restore(summaries_table.NAME, operation, raw, _status_head)
            if head is None:
                continue
            (code, calls, expected_calls, ratio_now, ratio_normal), integration = head
            current = packed.STATUSES[code]
            key = (integration or "", current)
            statuses[key] = statuses.get(key, 0) + 1
            if not budget:
                if current not in PROBLEM_VALUES or problems >= self._max:
                    continue
                problems += 1
            labels = [operation, integration or ""]
            for s in Status:
                status.add_metric([*labels, s.value], float(s.value == current))
            observed.add_metric(labels, calls)
            expected.add_metric(labels, packed.number(expected_calls) or 0.0)
            if not math.isnan(ratio_now):
                ratio.add_metric(labels, ratio_now)
            if not math.isnan(ratio_normal):
                normal.add_metric(labels, ratio_normal)
        for (integration, value), n in statuses.items():
            tally.add_metric([integration, value], n)
        yield from (status, observed, expected, ratio, normal, tally)
        judged = last_judged(self._models, self._quarantine)
        if judged is not None:
            yield GaugeMetricFamily(
                "detector_last_judged_window_end_timestamp_seconds",
                "End (Unix time) of the newest event-time window this worker has judged.",
                value=judged,
            )


def last_judged(models: Any, quarantine: Quarantine) -> int | None:
    """The end of the newest window this worker has judged (None before any)."""
    judged = [
        found[0]
        for operation, raw in list(models.data.items())
        if raw is not None
        and (found := quarantine.decode(models_table.NAME, operation, raw, models_table.judged))
        is not None
    ]
    return max(judged) if judged else None


def _window_sums(raw: bytes) -> tuple[tuple[int, int, int], str | None]:
    (_, _, calls, errors, retries), integration = packed.head(counts_table.LAYOUT, raw)
    return (calls, errors, retries), integration


def _status_head(raw: bytes) -> tuple[tuple[Any, ...], str | None]:
    return packed.head(summaries_table.LAYOUT, raw)


class Render:
    """/metrics rendered off the event loop (at 100,000 operations a render takes about
    a second, which would stall ingest, judging and the dashboard), and shared by the
    scrapes that arrive while one is under way or within ``fresh`` seconds of it (two
    Prometheus servers scraping the same worker pay for one render)."""

    def __init__(self, registry: Any, fresh: float = 1.0) -> None:
        self._registry = registry
        self._fresh = fresh
        self._lock = asyncio.Lock()
        self._body = b""
        self._at = -math.inf

    async def body(self, now: float) -> bytes:
        async with self._lock:
            if now - self._at >= self._fresh:
                # Collectors only read the tables (immutable bytes values) and the
                # thread-safe client_python metrics.
                self._body = await asyncio.to_thread(generate_latest, self._registry)
                self._at = now
            return self._body


def register(detector: Detector) -> None:
    registry = detector.registry
    quarantine = detector.quarantine
    budget = detector.settings.metrics_max_operations
    registry.register(WindowCollector(detector.counts, quarantine, budget))
    registry.register(
        StatusCollector(detector.counts, detector.summaries, detector.models, quarantine, budget)
    )

    pending = Gauge(
        "detector_changelog_pending_records",
        "Table changelog records queued in Faust's producer, not yet handed to Kafka "
        f"(writers wait above {PENDING_MOST:,}).",
        registry=registry,
    )
    pending.set_function(lambda: detector.app.producer.buffer.size)

    token = detector.settings.metrics_token
    render = Render(registry)

    @open_route  # Prometheus has no login: open, or behind DETECTOR_METRICS_TOKEN.
    async def metrics(request: web.Request) -> web.Response:
        if token is not None:
            require_bearer(request, token.get_secret_value())
        response = web.Response(body=await render.body(time.monotonic()))
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    web_app: web.Application = detector.app.web.web_app  # type: ignore[attr-defined]
    web_app.router.add_get("/metrics", metrics)
