"""Prometheus metrics of the ingest pipeline, built on an injected registry so each test
(and each app in one process) has its own."""

from __future__ import annotations

import contextlib
from collections import Counter as Tally

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_OP = ("operation", "integration")
_BATCH_BUCKETS = (1, 10, 100, 500, 1000, 2500, 5000, 10_000, 25_000, 50_000)


class PipelineMetrics:
    def __init__(self, registry: CollectorRegistry, max_operations: int = 2_000) -> None:
        # Operations with their own ``_total`` series; later ones share operation="".
        self.max_operations = max_operations
        self.labeled: set[str] = set()
        # Events in flight of the operations past the budget, summed per integration
        # into the operation="" series: {operation: (integration, in flight)}, only > 0.
        self._pooled: dict[str, tuple[str, int]] = {}
        self._pooled_totals: Tally[str] = Tally()
        self.calls = Counter(
            "detector_operation_calls",
            "Calls seen per operation (event time).",
            _OP,
            registry=registry,
        )
        self.errors = Counter(
            "detector_operation_errors", "Failed calls per operation.", _OP, registry=registry
        )
        self.retries = Counter(
            "detector_operation_retries",
            "Calls per operation that failed transiently and will be retried.",
            _OP,
            registry=registry,
        )
        self.consumed = Counter(
            "detector_events_consumed", "Messages read from the calls topic.", registry=registry
        )
        self.invalid = Counter(
            "detector_invalid_events",
            "Messages dead-lettered to the invalid topic, by reason.",
            ("reason",),
            registry=registry,
        )
        self.late = Counter(
            "detector_late_events",
            "Calls older than the window retention; counted here, not in any window.",
            registry=registry,
        )
        self.quarantined = Counter(
            "detector_quarantined_records",
            "Changelog records that failed validation on restore, by table: skipped.",
            ("table",),
            registry=registry,
        )
        self.evicted = Counter(
            "detector_evicted_operations",
            "Operations forgotten after DETECTOR_IDLE_DAYS without a call.",
            registry=registry,
        )
        self.partials_gaps = Counter(
            "detector_partials_gaps",
            "Gaps in the partial counts given up: ingest batches no longer on the partials "
            "topic when read again (their calls are not counted); see the worker's error log.",
            registry=registry,
        )
        self.rekeyed = Counter(
            "detector_rekeyed_events",
            "Messages whose Kafka key was not their operation, re-sent with the right key.",
            registry=registry,
        )
        self.batch_size = Histogram(
            "detector_batch_size_events",
            "Messages per ingest batch.",
            buckets=_BATCH_BUCKETS,
            registry=registry,
        )
        self.batch_seconds = Histogram(
            "detector_batch_processing_seconds",
            "Time to decode, aggregate and store one ingest batch.",
            registry=registry,
        )
        self.evaluation_seconds = Histogram(
            "detector_evaluation_seconds",
            "Time to evaluate every local operation once.",
            registry=registry,
        )
        self.changes = Counter(
            "detector_status_changes",
            "Status changes published, by new status.",
            ("status",),
            registry=registry,
        )
        self.inflight = Gauge(
            "detector_inflight_events",
            "Events followed by event_id not finished yet (received, processing, retrying).",
            _OP,
            registry=registry,
        )
        self.inflight_overflow = Counter(
            "detector_inflight_overflow",
            "Events not followed because the operation had DETECTOR_INFLIGHT_CAP in flight "
            "(each counted once, at its outcome).",
            _OP,
            registry=registry,
        )
        self.lag = Gauge(
            "detector_consumer_lag_messages",
            "Messages of the calls topic not yet processed, per partition.",
            ("partition",),
            registry=registry,
        )

    def operation_label(self, operation: str) -> str:
        """The operation's label on the ``_total`` counters: its name while the series
        budget (``DETECTOR_METRICS_MAX_OPERATIONS``) lasts, then "" (per integration)."""
        if operation in self.labeled:
            return operation
        if len(self.labeled) < self.max_operations:
            self.labeled.add(operation)
            return operation
        return ""

    def set_inflight(self, operation: str, integration: str, in_flight: int) -> None:
        """``detector_inflight_events`` of the operation, in its own series while the
        series budget lasts, else summed into its integration's operation="" series."""
        label = self.operation_label(operation)
        if label:
            self.inflight.labels(label, integration).set(in_flight)
            return
        self._unpool(operation)
        if in_flight:
            self._pooled[operation] = (integration, in_flight)
            self._pooled_totals[integration] += in_flight
        self.inflight.labels("", integration).set(self._pooled_totals[integration])

    def _unpool(self, operation: str) -> None:
        was = self._pooled.pop(operation, None)
        if was is not None:
            integration, n = was
            self._pooled_totals[integration] -= n
            self.inflight.labels("", integration).set(self._pooled_totals[integration])

    def forget(self, operation: str, integration: str) -> None:
        """Drop an evicted operation's own series (and its share of the pooled ones)."""
        for metric in (
            self.calls,
            self.errors,
            self.retries,
            self.inflight,
            self.inflight_overflow,
        ):
            with contextlib.suppress(KeyError):
                metric.remove(operation, integration)
        self._unpool(operation)
        self.labeled.discard(operation)
