"""Memory per tracked operation in one worker: the values its three tables keep per
operation (``window-counts``, ``operation-models``, ``operation-summaries``), as they sit
in memory after a restore from the changelog, at 100,000 operations. Run by hand:

    .venv/bin/python bench/memory.py --operations 100000

A few template operations (busy, medium, rare) are run through the real engine for a
day of windows; their stored values are then decoded from JSON once per tracked
operation, as a changelog restore does, and measured with ``tracemalloc``.
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc

import orjson

from detector.engine import Engine
from detector.opconfig import DetectionConfig
from detector.summary import OperationSummary, refresh
from detector.windows import OperationWindows, WindowCounts

# Calls per minute of the templates: busy, medium, a few an hour.
PROFILES = {"busy": 300.0, "medium": 5.0, "rare": 0.05}
DAY = 86400


def template(name: str, per_minute: float, window: int, retention: int) -> list[bytes]:
    """The three stored values of one operation after a day of traffic."""
    engine = Engine(DetectionConfig(), window)
    windows = OperationWindows(0, "bench")
    start = 1_800_000_000 // DAY * DAY
    state = None
    summary = OperationSummary(operation=name)
    every = max(1, round(1 / per_minute)) if per_minute < 1 else 1
    for step in range(DAY // window):
        at = start + step * window
        if step % every == 0:
            calls = max(1, round(per_minute * window / 60))
            windows.merge(at, WindowCounts(calls, calls // 20, 0, {"503": calls // 20}))
            windows.last_call_at = float(at)
        windows.applied[0] = step
        until = at + window
        state, _ = engine.advance(state, name, "bench", windows.windows, until)
        if state is not None:
            counts = windows.windows.get(at)
            if counts is not None:
                summary.add_window(at, counts, engine.config.zone)
            windows.expire(retention)
    assert state is not None
    refresh(summary, state, windows.last_call_at)
    return [
        orjson.dumps(windows.to_value()),
        orjson.dumps(state.to_dict()),
        orjson.dumps(summary.model_dump(mode="json")),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--operations", type=int, default=100_000)
    parser.add_argument("--window-seconds", type=int, default=60)
    parser.add_argument("--retention-seconds", type=int, default=3600)
    args = parser.parse_args()
    started = time.perf_counter()
    templates = {
        kind: template(f"Bench.{kind}", rate, args.window_seconds, args.retention_seconds)
        for kind, rate in PROFILES.items()
    }
    print(f"templates built in {time.perf_counter() - started:.1f} s")
    for kind, values in templates.items():
        sizes = ", ".join(f"{len(v):,}" for v in values)
        print(f"  {kind:<6} JSON bytes (counts, model, summary): {sizes}")
    kinds = list(templates)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    tables: list[dict[str, object]] = [{}, {}, {}]
    for i in range(args.operations):
        kind = kinds[i % len(kinds)]  # A third of each: busy, medium and rare.
        name = f"Bench.Operation{i}"
        for table, raw in zip(tables, templates[kind], strict=True):
            table[name] = orjson.loads(raw)
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    per_op = used / args.operations
    print(
        f"{args.operations:,} operations: {used / 2**20:,.1f} MiB of table state, "
        f"{per_op:,.0f} bytes per operation (target < 2,048)"
    )
    for kind in kinds:
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        held = [[orjson.loads(raw) for raw in templates[kind]] for _ in range(1000)]
        each = (tracemalloc.get_traced_memory()[0] - base) / len(held)
        tracemalloc.stop()
        print(f"  {kind:<6} operation: {each:,.0f} bytes")


if __name__ == "__main__":
    main()
