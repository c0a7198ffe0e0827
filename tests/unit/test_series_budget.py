"""Per-operation metric series are bounded: past DETECTOR_METRICS_MAX_OPERATIONS the
window gauges and counters are per integration, and only problems keep their own status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from agents.metrics import PipelineMetrics
from agents.quarantine import Quarantine
from agents.web_metrics import StatusCollector, WindowCollector
from detector.status import Status
from detector.summary import OperationSummary
from detector.windows import OperationWindows, WindowCounts
from tables import counts as counts_table
from tables import summaries as summaries_table


@dataclass
class Table:
    data: dict[str, Any]


OPS = {"A": "ok", "B": "ok", "C": "many_problems", "D": "no_calls", "E": "ok"}


def scrape(budget: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    windows = OperationWindows(0, "web", {60: WindowCounts(2, 1, 0)}, 1.0)
    counts = Table({op: counts_table.encode(windows) for op in OPS})
    summaries = Table(
        {
            op: summaries_table.encode(
                OperationSummary(operation=op, integration="web", status=Status(status))
            )
            for op, status in OPS.items()
        }
    )
    registry = CollectorRegistry()
    quarantine = Quarantine(Counter("q", "q", ("table",), registry=registry))
    registry.register(WindowCollector(counts, quarantine, budget))
    registry.register(StatusCollector(counts, summaries, Table({}), quarantine, budget))
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_within_the_budget_every_operation_has_its_series() -> None:
    m = scrape(10)
    assert m[("detector_window_calls", (("integration", "web"), ("operation", "A")))] == 2
    status = [k for k in m if k[0] == "detector_operation_status"]
    assert len(status) == 5 * 5


def test_past_the_budget_series_are_per_integration_and_problems_only() -> None:
    m = scrape(2)
    assert m[("detector_window_calls", (("integration", "web"), ("operation", "")))] == 10
    assert m[("detector_window_errors", (("integration", "web"), ("operation", "")))] == 5
    assert not [k for k in m if k[0] == "detector_window_calls" and ("operation", "A") in k[1]]
    own = {dict(k[1])["operation"] for k in m if k[0] == "detector_operation_status"}
    assert own == {"C", "D"}
    assert m[("detector_operations", (("integration", "web"), ("status", "ok")))] == 3


def test_counters_share_one_series_past_the_budget() -> None:
    metrics = PipelineMetrics(CollectorRegistry(), max_operations=2)
    assert [metrics.operation_label(op) for op in "ABCA"] == ["A", "B", "", "A"]
