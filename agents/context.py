"""The worker's shared objects, in one place the agents depend on.

``agents/app.py`` builds a ``Detector`` and hands it to each agent's ``register``; the
agents import this module, never the app, so the arrows point one way. Ingest reaches
evaluation through ``judge`` (set by the evaluator), not by importing it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import faust
from prometheus_client import CollectorRegistry

from agents.links import LinkMaker
from agents.metrics import PipelineMetrics
from agents.progress import IngestProgress
from agents.quarantine import Quarantine
from agents.settings import Settings
from detector.cardinality import Roster
from detector.engine import Engine
from detector.opconfig import DetectionConfig
from detector.status import StatusChange
from detector.windows import OperationWindows

if TYPE_CHECKING:
    from agents.chains import Chains
    from agents.lifecycle import Lifecycles

Judge = Callable[[str, OperationWindows, int, float], Awaitable[None]]
"""Judge an operation's windows up to a boundary (operation, windows, until, now)."""


async def _not_registered(*_: Any) -> None:
    raise RuntimeError("the evaluator is not registered: call agents.evaluate.register first")


@dataclass
class Topics:
    calls: Any
    invalid: Any
    status: Any
    log: Any
    payloads: Any
    partials: Any


@dataclass
class Detector:
    """Everything the agents share; passed explicitly instead of imported globals."""

    app: faust.App
    settings: Settings
    registry: CollectorRegistry
    metrics: PipelineMetrics
    topics: Topics
    detection: DetectionConfig
    engine: Engine
    counts: Any
    models: Any
    summaries: Any
    links: LinkMaker
    inflight: Any = None  # tables.inflight: events in flight and operations' lifecycles.
    chains: Any = None  # tables.chains: what the fold agent applied, per partials partition.
    judge: Judge = _not_registered
    progress: IngestProgress = field(default_factory=IngestProgress)
    # Held while operations are judged (fold agent, evaluator timer): one at a time.
    judging: asyncio.Lock = field(default_factory=asyncio.Lock)
    quarantine: Quarantine = field(init=False)
    # The operations this worker tracks, against the caps: ingest admits, eviction frees.
    roster: Roster = field(init=False)
    lifecycles: Lifecycles = field(init=False)  # Set by app.build, over the two tables.
    fold_chains: Chains = field(init=False)  # Set by app.build, over ``chains``.

    def __post_init__(self) -> None:
        self.quarantine = Quarantine(self.metrics.quarantined)
        settings = self.settings
        self.roster = Roster(settings.max_operations, settings.max_operations_per_integration)

    def log_url(self, change: StatusChange, now: float) -> str:
        """The signed link to the log around a change, as mails and the dashboard give it."""
        return self.links.url(change.operation, change.at.timestamp(), now)
