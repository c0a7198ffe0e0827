"""Only lifecycles with events in flight stay in memory: the others are stored whole and
read back from their own key, without another pass over the table."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from prometheus_client import CollectorRegistry

from agents.lifecycle import Lifecycles
from agents.metrics import PipelineMetrics
from agents.quarantine import Quarantine
from detector.engine import Engine
from detector.lifecycle.tracker import Event
from detector.opconfig import DetectionConfig


class Data(dict[str, Any]):
    """A table's data that counts the passes over it."""

    scans = 0

    def items(self) -> Any:
        self.scans += 1
        return super().items()


@dataclass
class Table:
    data: Data = field(default_factory=Data)
    sent: list[str] = field(default_factory=list)

    def send_changelog(self, _p: int, key: str, value: Any, value_serializer: Any = None) -> None:
        self.sent.append(key)


def book(table: Any = None) -> Lifecycles:
    metrics = PipelineMetrics(CollectorRegistry())
    detector: Any = SimpleNamespace(
        inflight=Table() if table is None else table,
        metrics=metrics,
        quarantine=Quarantine(metrics.quarantined),
        engine=Engine(DetectionConfig()),
        settings=SimpleNamespace(window_seconds=60, inflight_cap=100),
        detection=DetectionConfig(),
    )
    return Lifecycles(detector)


def test_idle_lifecycles_are_stored_and_dropped_busy_ones_kept() -> None:
    lifecycles = book()
    quiet = lifecycles.get("Quiet.Op")
    quiet.arrivals[60] = 3  # State worth keeping, but no event in flight.
    busy = lifecycles.get("Busy.Op")
    event = Event("processing", 61.0, 61.0)
    busy.open["e1"] = event
    busy.changed = {"e1": event}
    lifecycles.save("Quiet.Op", 0, "web")
    lifecycles.save("Busy.Op", 0, "web")
    assert list(lifecycles.known) == ["Busy.Op"]
    scans = lifecycles.table.data.scans
    again = lifecycles.get("Quiet.Op")
    assert again.to_dict() == quiet.to_dict()  # Read back as it was stored.
    assert lifecycles.table.data.scans == scans  # From its own key, not a table pass.
    lifecycles.forget()
    assert lifecycles.get("Busy.Op").open == {"e1": event}  # After a rebalance: a scan.
    assert lifecycles.table.data.scans == scans + 1


def test_operations_of_one_rule_share_its_policy() -> None:
    lifecycles = book()
    first = lifecycles.policy("A.Op", "web")
    assert lifecycles.policy("B.Op", "crm") is first
    assert len(lifecycles.policies) == 1
