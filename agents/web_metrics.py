"""``/metrics`` on the worker's web port, in the Prometheus text format, and the gauges
derived from table state at scrape time (client_python's custom-collector pattern)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from agents.quarantine import Quarantine
from agents.web.auth import open_route, require_bearer
from detector import stored
from detector.state import migrate
from detector.status import Status
from detector.summary import OperationSummary
from detector.windows import OperationWindows
from tables import counts as counts_table
from tables import models as models_table
from tables import summaries as summaries_table

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
        for operation, value in items:
            if value is None:
                continue
            try:  # Summed from the stored lists: decoding each window costs 5x more.
                integration = value.get("i")
                calls = errors = retries = 0
                for w in value["w"].values():
                    calls, errors, retries = calls + w[0], errors + w[1], retries + w[2]
                sums = [calls, errors, retries]
                labels = (operation if per_operation else "", str(integration or ""))
            except (AttributeError, KeyError, TypeError, IndexError):
                self._restore(counts_table.NAME, operation, value, OperationWindows.from_value)
                continue  # Quarantined: logged once and counted there.
            acc = totals.setdefault(labels, [0, 0, 0])
            for i in range(3):
                acc[i] += sums[i]
        for labels, sums in totals.items():
            for family, total in zip(families, sums, strict=True):
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
        for operation in operations:
            raw = self._summaries.data.get(operation)
            if raw is None:
                continue
            summary = self._restore(
                summaries_table.NAME, operation, raw, OperationSummary.model_validate
            )
            if summary is None:
                continue
            key = (summary.integration or "", summary.status.value)
            statuses[key] = statuses.get(key, 0) + 1
            if not budget:
                if not summary.status.is_problem or problems >= self._max:
                    continue
                problems += 1
            labels = [operation, summary.integration or ""]
            for s in Status:
                status.add_metric([*labels, s.value], float(s is summary.status))
            observed.add_metric(labels, summary.calls_last_hour)
            expected.add_metric(labels, summary.expected_last_hour or 0.0)
            if summary.error_ratio_now is not None:
                ratio.add_metric(labels, summary.error_ratio_now)
            if summary.error_ratio_normal is not None:
                normal.add_metric(labels, summary.error_ratio_normal)
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
        boundary
        for operation, raw in list(models.data.items())
        if raw is not None
        and (boundary := quarantine.decode(models_table.NAME, operation, raw, _last_boundary))
        is not None
    ]
    return max(judged) if judged else None


def _last_boundary(raw: Any) -> int:
    """The stored state's last judged boundary, without decoding the whole state."""
    return stored.count(migrate(raw)["last_boundary"], "last_boundary")


def register(detector: Detector) -> None:
    registry = detector.registry
    quarantine = detector.quarantine
    budget = detector.settings.metrics_max_operations
    registry.register(WindowCollector(detector.counts, quarantine, budget))
    registry.register(
        StatusCollector(detector.counts, detector.summaries, detector.models, quarantine, budget)
    )

    token = detector.settings.metrics_token

    @open_route  # Prometheus has no login: open, or behind DETECTOR_METRICS_TOKEN.
    async def metrics(request: web.Request) -> web.Response:
        if token is not None:
            require_bearer(request, token.get_secret_value())
        response = web.Response(body=generate_latest(registry))
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    web_app: web.Application = detector.app.web.web_app  # type: ignore[attr-defined]
    web_app.router.add_get("/metrics", metrics)
