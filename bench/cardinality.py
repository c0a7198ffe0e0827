"""Cardinality: what each tracked operation costs a worker, and /metrics and
/api/operations at many operations, beside the same figures measured in the same run
for a reference worker (1,000 operations; memory: per operation over an empty worker).
Run by hand, no broker needed:

    PYTHONPATH=. .venv/bin/python bench/cardinality.py --operations 100000

Each operation gets what a worker keeps for it in steady state, built by the worker's
own code: its window counts (one hour of one-minute windows of noisy traffic), its
detection state after two days, its dashboard summary and its lifecycle, packed as the
tables hold them (``tables.packed``), plus its entries in the worker's per-operation
caches (rules, the operations roster, the series budget). A mix of busy, medium and rare
operations. Memory is the Python heap growth per operation (tracemalloc). For
comparison, the same values held decoded (format 2, how tables held them before) are
measured on a sample. /metrics is rendered by the worker's own collectors and registry;
/api/operations by the dashboard's own handler through aiohttp's test client.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import time
import tracemalloc
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry, Counter, generate_latest

from agents.links import LinkMaker
from agents.metrics import PipelineMetrics
from agents.quarantine import Quarantine
from agents.web.auth import USER
from agents.web.routes import Dashboard
from agents.web_metrics import StatusCollector, WindowCollector
from detector import links
from detector.access import User
from detector.cardinality import Roster
from detector.engine import Engine
from detector.lifecycle.tracker import Lifecycle
from detector.masking import FieldRules
from detector.opconfig import DetectionConfig
from detector.status import Status
from detector.summary import OperationSummary, refresh
from detector.windows import OperationWindows, WindowCounts
from tables import counts, inflight, models, summaries
from tests.unit.detection_helpers import poisson, run

NOW = 1_800_000_000
# Calls per minute of the templates: busy, medium, a few an hour.
RATES = (300.0, 5.0, 0.05)
STATUSES = ["ok"] * 96 + ["some_problems", "many_problems", "no_calls", "learning"]


@dataclass
class Table:
    """What the collectors and handlers read of a Faust table: ``.data``."""

    data: dict[str, Any]


@dataclass
class Template:
    windows: OperationWindows
    state: Any
    summary: OperationSummary


def _templates() -> list[Template]:
    """Busy, medium and rare operations, two seeds each: noisy counts, as traffic is."""
    out = []
    for seed, rate in ((s, r) for s in (1, 2) for r in RATES):
        state, _ = run(poisson(lambda _, rate=rate: rate, 0.02), 2, seed=seed)
        assert state is not None
        rng = random.Random(seed)
        every = max(1, round(1 / rate))
        windows = OperationWindows(0, "web", last_call_at=NOW - 1.5, applied={0: 12_345_678})
        for i in range(0, 60, every):
            calls = max(1, int(rng.gauss(rate, rate**0.5)))
            errors = int(calls * rng.random() * 0.04)
            windows.windows[NOW - 3600 + 60 * i] = WindowCounts(
                calls, errors, 0, {"503": errors} if errors else {}
            )
        summary = OperationSummary(operation="x", integration="web", since=NOW - 9e4)
        refresh(summary, state, windows.last_call_at)
        summary.hourly_calls = [int(rng.gauss(rate * 60, rate * 5)) for _ in range(24)]
        summary.hourly_errors = [int(c * 0.02) for c in summary.hourly_calls]
        out.append(Template(windows, state, summary))
    return out


@dataclass
class Worker:
    counts: Table
    models: Table
    summaries: Table
    inflight: Table
    caches: list[Any]  # Held so tracemalloc counts them.


def build(n: int, templates: list[Template], budget: int) -> Worker:
    """The tables and caches of a worker tracking ``n`` operations."""
    worker = Worker(Table({}), Table({}), Table({}), Table({}), [])
    engine = Engine(DetectionConfig())
    roster = Roster(10**9, 10**9)
    metrics = PipelineMetrics(CollectorRegistry(), budget)
    worker.caches += [engine, roster, metrics]
    empty_life = Lifecycle().to_dict()
    for i in range(n):
        op = f"Shop.Order{i:06d}"
        t = templates[i % len(templates)]
        integration = f"int{i % 20}"
        t.windows.integration = t.state.integration = integration
        t.summary.operation, t.summary.integration = op, integration
        t.summary.status = Status(STATUSES[i % 100])
        worker.counts.data[op] = counts.encode(t.windows)
        worker.models.data[op] = models.encode(t.state)
        worker.summaries.data[op] = summaries.encode(t.summary)
        worker.inflight.data[op] = inflight.encode(empty_life)
        engine.rule(op, integration)
        roster.refuse([op], {op: integration})
        metrics.operation_label(op)
    return worker


def heap_per_operation(n: int, templates: list[Template], budget: int) -> tuple[Worker, float]:
    gc.collect()
    tracemalloc.start()
    empty = build(0, templates, budget)
    before = tracemalloc.get_traced_memory()[0]
    worker = build(n, templates, budget)
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del empty
    return worker, used / n


def decoded_per_operation(templates: list[Template], sample: int = 3_000) -> float:
    """The same values held decoded (JSON objects), as the tables held them before."""
    worker = build(sample, templates, 0)
    blobs = [
        [
            orjson.dumps(counts.decode(worker.counts.data[op]).to_value()),
            orjson.dumps(models.decode(worker.models.data[op]).to_dict()),
            orjson.dumps(summaries.decode(worker.summaries.data[op]).model_dump(mode="json")),
        ]
        for op in worker.counts.data
    ]
    del worker
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    held = [[orjson.loads(b) for b in row] for row in blobs]
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del held
    return used / sample


def scrape(worker: Worker, budget: int) -> tuple[int, float]:
    registry = CollectorRegistry()
    quarantine = Quarantine(Counter("q", "q", ("table",), registry=registry))
    registry.register(WindowCollector(worker.counts, quarantine, budget))
    registry.register(
        StatusCollector(worker.counts, worker.summaries, worker.models, quarantine, budget)
    )
    started = time.perf_counter()
    body = generate_latest(registry)
    return len(body), time.perf_counter() - started


async def api(worker: Worker) -> tuple[int, float, int, float]:
    """(bytes, seconds) of the first page of problems, and of the default first page, as
    the dashboard's handler answers them to an admin."""
    admin = User(name="bench", role="admin")

    @web.middleware
    async def logged_in(request: web.Request, handler: Any) -> web.StreamResponse:
        request[USER] = admin
        return await handler(request)

    async def no_log(*_: Any) -> list[Any]:
        return []

    app = web.Application(middlewares=[logged_in])
    maker = LinkMaker("http://dash", b"k" * 32, links.LinkRule())
    rows = summaries.Rows(worker.summaries)
    Dashboard(lambda: rows, no_log, maker, lambda *_: FieldRules()).add_routes(app)
    out = []
    async with TestClient(TestServer(app)) as client:
        for params in ({"status": "problems", "limit": "200"}, {}):
            started = time.perf_counter()
            response = await client.get("/api/operations", params=params)
            assert response.status == 200, await response.text()
            body = await response.read()
            out += [len(body), time.perf_counter() - started]
    return out[0], out[1], out[2], out[3]


def measure(n: int, templates: list[Template], budget: int) -> dict[str, float]:
    worker, per_op = heap_per_operation(n, templates, budget)
    size, seconds = scrape(worker, budget)
    problems_bytes, problems_s, page_bytes, page_s = asyncio.run(api(worker))
    return {
        "operations": n,
        "heap per operation (bytes)": per_op,
        f"/metrics size (MB), series budget {budget}": size / 1e6,
        "  render (s)": seconds,
        "/api/operations?status=problems&limit=200 (KB)": problems_bytes / 1e3,
        "  latency (s)": problems_s,
        "/api/operations first page of 500 (KB)": page_bytes / 1e3,
        "  latency (s) ": page_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--operations", type=int, default=100_000)
    parser.add_argument("--reference", type=int, default=1_000)
    parser.add_argument(
        "--metrics-max-operations", type=int, default=2_000, help="DETECTOR_METRICS_MAX_OPERATIONS"
    )
    args = parser.parse_args()
    budget = args.metrics_max_operations
    templates = _templates()
    sizes = [
        (
            len(counts.encode(t.windows)),
            len(models.encode(t.state)),
            len(summaries.encode(t.summary)),
        )
        for t in templates
    ]
    print("packed bytes per template (counts, model, summary):", sizes)
    reference = measure(args.reference, templates, budget)
    measured = measure(args.operations, templates, budget)
    print(f"{'':48} {'reference':>12} {'measured':>12}")
    for key in measured:
        print(f"{key:48} {reference[key]:>12.3f} {measured[key]:>12.3f}")
    print(
        f"the same values held decoded (before format 3): "
        f"{decoded_per_operation(templates):,.0f} bytes per operation"
    )


if __name__ == "__main__":
    main()
