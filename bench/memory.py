"""Memory per tracked operation in one worker: the values its three tables keep per
operation (``window-counts``, ``operation-models``, ``operation-summaries``), packed as
the tables hold them (``tables.packed``), beside the same values held decoded from JSON
(how the tables held them before format 3), measured in the same run. Run by hand:

    .venv/bin/python bench/memory.py --operations 100000

A few template operations (busy, medium, rare) are run through the real engine for a
day of windows; their stored values are then packed once per tracked operation and
measured with ``tracemalloc``, and decoded from JSON for a sample of operations.
``bench/cardinality.py`` adds the worker's per-operation caches and noisy traffic.
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
from collections.abc import Callable

import orjson

from detector.engine import Engine
from detector.opconfig import DetectionConfig
from detector.summary import OperationSummary, refresh
from detector.windows import OperationWindows, WindowCounts
from tables import counts, models, packed, summaries

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


def heap(build: Callable[[int], list[object]], n: int) -> float:
    """Heap bytes per operation of what ``build`` returns for ``n`` operations."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    held = build(n)
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del held
    return used / n


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--operations", type=int, default=100_000)
    parser.add_argument("--decoded-sample", type=int, default=10_000)
    parser.add_argument("--window-seconds", type=int, default=60)
    parser.add_argument("--retention-seconds", type=int, default=3600)
    args = parser.parse_args()
    started = time.perf_counter()
    templates = {
        kind: template(f"Bench.{kind}", rate, args.window_seconds, args.retention_seconds)
        for kind, rate in PROFILES.items()
    }
    print(f"templates built in {time.perf_counter() - started:.1f} s")
    layouts = (counts.LAYOUT, models.LAYOUT, summaries.LAYOUT)
    packed_templates = {
        kind: [
            packed.pack(layout, orjson.loads(raw))
            for layout, raw in zip(layouts, values, strict=True)
        ]
        for kind, values in templates.items()
    }
    for kind, values in templates.items():
        json_sizes = ", ".join(f"{len(v):,}" for v in values)
        packed_sizes = ", ".join(f"{len(v):,}" for v in packed_templates[kind])
        print(
            f"  {kind:<6} bytes (counts, model, summary): JSON {json_sizes}; packed {packed_sizes}"
        )
    kinds = list(templates)

    def tables(source: dict[str, list[bytes]], decode: bool) -> Callable[[int], list[object]]:
        def build(n: int) -> list[object]:
            held: list[dict[str, object]] = [{}, {}, {}]
            for i in range(n):
                name = f"Bench.Operation{i}"
                values = source[kinds[i % len(kinds)]]  # A third each: busy, medium, rare.
                for table, raw in zip(held, values, strict=True):
                    # A copy per operation, as each operation's record is its own.
                    table[name] = orjson.loads(raw) if decode else bytes(bytearray(raw))
            return list(held)

        return build

    decoded = heap(tables(templates, True), args.decoded_sample)
    compact = heap(tables(packed_templates, False), args.operations)
    print(f"{'':36} {'decoded (before)':>18} {'packed':>12}")
    print(f"{'operations':36} {args.decoded_sample:>18,} {args.operations:>12,}")
    print(f"{'table heap per operation (bytes)':36} {decoded:>18,.0f} {compact:>12,.0f}")


if __name__ == "__main__":
    main()
