"""Cardinality: what each tracked operation costs a worker, and /metrics and
/api/operations at many operations, beside the same figures at 1,000 operations measured
in the same run (the reference). Run by hand, no broker needed:

    .venv/bin/python bench/cardinality.py --operations 100000

Each operation gets the state a worker holds for it in steady state: its window counts
(one hour of one-minute windows), its detection state after two days of traffic, and
its dashboard summary, as the tables keep them (decoded JSON). Memory is the Python heap
growth per operation (tracemalloc). /metrics is rendered by the worker's own collectors
and registry; /api/operations by the dashboard's handler through aiohttp's test client.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry, Counter, generate_latest

from agents.quarantine import Quarantine
from agents.web_metrics import StatusCollector, WindowCollector
from detector.listing import Query, select
from detector.summary import OperationSummary
from detector.windows import OperationWindows, WindowCounts
from tests.unit.detection_helpers import poisson, run

NOW = 1_800_000_000


@dataclass
class Table:
    """What the collectors and handlers read of a Faust table: ``.data``."""

    data: dict[str, Any]


def _templates() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    state, _ = run(poisson(lambda _: 5.0, 0.02), 2)
    assert state is not None
    windows = OperationWindows(
        0, "web", {NOW - 3600 + 60 * i: WindowCounts(5, 0, 0) for i in range(60)}, NOW
    )
    summary = OperationSummary(operation="x", integration="web", status="ok", since=NOW - 9e4)
    as_stored: Callable[[Any], Any] = lambda v: orjson.loads(orjson.dumps(v))  # noqa: E731
    return (
        as_stored(windows.to_value()),
        as_stored(state.to_dict()),
        as_stored(summary.model_dump(mode="json")),
    )


def build(n: int) -> tuple[Table, Table, Table, float]:
    """The three tables for ``n`` operations, and the heap bytes per operation."""
    counts_t, model_t, summary_t = _templates()
    statuses = ["ok"] * 96 + ["some_problems", "many_problems", "no_calls", "learning"]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    counts, models, summaries = {}, {}, {}
    for i in range(n):
        op = f"Shop.Order{i:06d}"
        counts[op] = orjson.loads(orjson.dumps(counts_t))
        models[op] = orjson.loads(orjson.dumps(model_t))
        row = orjson.loads(orjson.dumps(summary_t))
        row.update(operation=op, integration=f"int{i % 20}", status=statuses[i % 100])
        summaries[op] = row
    gc.collect()
    per_op = (tracemalloc.get_traced_memory()[0] - before) / n
    tracemalloc.stop()
    return Table(counts), Table(models), Table(summaries), per_op


def scrape(counts: Table, models: Table, summaries: Table, budget: int) -> tuple[int, float]:
    registry = CollectorRegistry()
    quarantine = Quarantine(Counter("q", "q", ("table",), registry=registry))
    registry.register(WindowCollector(counts, quarantine, budget))
    registry.register(StatusCollector(counts, summaries, models, quarantine, budget))
    started = time.perf_counter()
    body = generate_latest(registry)
    return len(body), time.perf_counter() - started


async def api(summaries: Table) -> tuple[int, float, int, float]:
    """(bytes, seconds) of the first page of problems, and of the default first page."""

    async def operations(request: web.Request) -> web.Response:
        params = request.query
        query = Query(status=params.get("status"), limit=int(params.get("limit", "500")))
        found = select(list(summaries.data.values()), query)
        rows = [OperationSummary.model_validate(r).model_dump(mode="json") for r in found.rows]
        return web.json_response({"operations": rows, "total": found.total})

    app = web.Application()
    app.router.add_get("/api/operations", operations)
    out = []
    async with TestClient(TestServer(app)) as client:
        for params in ({"status": "problems", "limit": "200"}, {}):
            started = time.perf_counter()
            body = await (await client.get("/api/operations", params=params)).read()
            out += [len(body), time.perf_counter() - started]
    return out[0], out[1], out[2], out[3]


def measure(n: int, budget: int) -> dict[str, float]:
    counts, models, summaries, per_op = build(n)
    size, seconds = scrape(counts, models, summaries, budget)
    problems_bytes, problems_s, page_bytes, page_s = asyncio.run(api(summaries))
    return {
        "operations": n,
        "heap per operation (KiB)": per_op / 1024,
        f"/metrics size (MB), series budget {budget}": size / 1e6,
        "  render (s)": seconds,
        "/api/operations?status=problems&limit=200 (KB)": problems_bytes / 1e3,
        "  latency (s)": problems_s,
        "/api/operations first page of 500 (KB)": page_bytes / 1e3,
        "  latency (s) ": page_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--operations", type=int, default=100_000)
    parser.add_argument("--reference", type=int, default=1_000)
    parser.add_argument(
        "--metrics-max-operations", type=int, default=2_000, help="DETECTOR_METRICS_MAX_OPERATIONS"
    )
    args = parser.parse_args()
    budget = args.metrics_max_operations
    reference, measured = measure(args.reference, budget), measure(args.operations, budget)
    print(f"{'':48} {'reference':>12} {'measured':>12}")
    for key in measured:
        print(f"{key:48} {reference[key]:>12.3f} {measured[key]:>12.3f}")


if __name__ == "__main__":
    main()
