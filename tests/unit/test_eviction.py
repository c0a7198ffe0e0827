"""Idle operations are forgotten: table records tombstoned, metric series removed."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest

from agents.evaluate import evict
from agents.metrics import PipelineMetrics
from detector.cardinality import idle
from detector.windows import OperationWindows

DAY = 86400.0


@dataclass
class Table:
    data: dict[str, Any]
    sent: list[tuple[int, str, Any]] = field(default_factory=list)

    def send_changelog(self, partition: int, key: str, value: Any) -> None:
        self.sent.append((partition, key, value))


def test_idle_after_the_configured_days_only() -> None:
    assert idle(0.0, 31 * DAY, 30 * DAY)
    assert not idle(2 * DAY, 31 * DAY, 30 * DAY)
    assert not idle(None, 31 * DAY, 30 * DAY)  # Never called: nothing to measure from.


def test_evict_tombstones_the_records_and_drops_the_series() -> None:
    registry = CollectorRegistry()
    metrics = PipelineMetrics(registry)
    for op in ("Old.Op", "Live.Op"):
        metrics.calls.labels(metrics.operation_label(op), "web").inc(3)
    tables = [Table({"Old.Op": {}, "Live.Op": {}}) for _ in range(3)]
    detector: Any = SimpleNamespace(
        counts=tables[0],
        models=tables[1],
        summaries=tables[2],
        metrics=metrics,
        settings=SimpleNamespace(idle_days=30.0),
    )
    evict(detector, "Old.Op", OperationWindows(2, "web"))
    for table in tables:
        assert list(table.data) == ["Live.Op"]
        assert table.sent == [(2, "Old.Op", None)]
    text = generate_latest(registry).decode()
    assert 'operation="Old.Op"' not in text
    assert 'operation="Live.Op"' in text
    assert "detector_evicted_operations_total 1.0" in text
    assert "Old.Op" not in metrics.labeled
