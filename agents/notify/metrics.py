"""Metrics of the notifier, on an injected registry. ``channel`` is email, webhook or alertmanager,
``reason`` one of ``agents.notify.base.REASONS``: both bounded."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

_LATENCY_BUCKETS = (1, 5, 15, 30, 45, 60, 90, 120, 300, 900, 3600)


class NotifyMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.sent = Counter(
            "detector_notifications_sent",
            "Notifications delivered, by channel.",
            ("channel",),
            registry=registry,
        )
        self.failed = Counter(
            "detector_notifications_failed",
            "Notifications given up on (permanent failure, or too many temporary ones).",
            ("channel", "reason"),
            registry=registry,
        )
        self.retried = Counter(
            "detector_notifications_retried",
            "Temporary failures that will be retried, by reason.",
            ("channel", "reason"),
            registry=registry,
        )
        self.latency = Histogram(
            "detector_notification_latency_seconds",
            "Time from a status change (detection wall clock) to its notification sent.",
            ("channel",),
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
