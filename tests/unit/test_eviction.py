"""Idle operations are forgotten: table records tombstoned, metric series removed."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest

from agents.evaluate import evict
from agents.lifecycle import Lifecycles
from agents.metrics import PipelineMetrics
from agents.quarantine import Quarantine
from detector.cardinality import Roster, idle
from detector.engine import Engine
from detector.lifecycle.tracker import Event, Lifecycle
from detector.opconfig import DetectionConfig
from tables.inflight import encode, event_key

DAY = 86400.0


@dataclass
class Table:
    data: dict[str, Any]
    sent: list[tuple[int, str, Any]] = field(default_factory=list)

    def send_changelog(
        self, partition: int, key: str, value: Any, value_serializer: str | None = None
    ) -> None:
        # A tombstone is a null record value: None sent raw, not orjson's b"null".
        assert value is not None or value_serializer == "raw"
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
        metrics.set_inflight(op, "web", 2)
        metrics.inflight_overflow.labels(op, "web").inc()
    tables = [Table({"Old.Op": {}, "Live.Op": {}}) for _ in range(3)]
    old_events = {
        event_key("Old.Op", e): encode(Event(phase, 1.0, 1.0).to_list())
        for e, phase in (("e1", "processing"), ("e2", "retrying"))
    }
    inflight = Table({"Old.Op": encode(Lifecycle().to_dict()), "Live.Op": b"", **old_events})
    engine = Engine(DetectionConfig())
    roster = Roster(max_operations=2, max_per_integration=2)
    assert roster.refuse(["Old.Op", "Live.Op"], {"Old.Op": "web", "Live.Op": "web"}) == {}
    detector: Any = SimpleNamespace(
        roster=roster,
        counts=tables[0],
        models=tables[1],
        summaries=tables[2],
        inflight=inflight,
        engine=engine,
        metrics=metrics,
        quarantine=Quarantine(metrics.quarantined),
        settings=SimpleNamespace(idle_days=30.0),
    )
    detector.lifecycles = Lifecycles(detector)
    assert detector.lifecycles.get("Old.Op").in_flight == 2
    engine.rule("Old.Op", "web")
    evict(detector, "Old.Op", 2, "web")
    for table in tables:
        assert list(table.data) == ["Live.Op"]
        assert table.sent == [(2, "Old.Op", None)]
    assert list(inflight.data) == ["Live.Op"]
    assert sorted(k for _, k, _ in inflight.sent) == sorted(["Old.Op", *old_events])
    assert {v for _, _, v in inflight.sent} == {None}
    assert "Old.Op" not in detector.lifecycles.known
    assert "Old.Op" not in engine._rules
    assert roster.refuse(["New.Op"], {"New.Op": "web"}) == {}  # Its place under the caps.
    text = generate_latest(registry).decode()
    assert 'operation="Old.Op"' not in text
    assert 'detector_inflight_events{integration="web",operation="Live.Op"} 2.0' in text
    assert "detector_evicted_operations_total 1.0" in text
    assert "Old.Op" not in metrics.labeled


def test_inflight_series_past_the_budget_are_summed_per_integration() -> None:
    registry = CollectorRegistry()
    metrics = PipelineMetrics(registry, max_operations=1)
    metrics.set_inflight("A", "web", 1)
    metrics.set_inflight("B", "web", 2)
    metrics.set_inflight("C", "web", 3)
    metrics.set_inflight("B", "web", 5)
    text = generate_latest(registry).decode()
    assert 'detector_inflight_events{integration="web",operation="A"} 1.0' in text
    assert 'detector_inflight_events{integration="web",operation=""} 8.0' in text
    assert 'operation="B"' not in text
    metrics.forget("C", "web")
    metrics.set_inflight("B", "web", 0)
    text = generate_latest(registry).decode()
    assert 'detector_inflight_events{integration="web",operation=""} 0.0' in text
