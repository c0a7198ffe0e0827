"""In-flight state at 1 million events: memory and throughput of the lifecycle core
(``detector.lifecycle.tracker``), beside references measured in the same run.

    .venv/bin/python bench/inflight.py [--events 1000000]

Phases, one operation: N events ``received`` (each enters the in-flight state), N
``processing`` (each moves to a new phase), a window boundary with all N in flight and
none stuck, a boundary 20 minutes on with all N stuck, N ``delivered`` (each leaves),
and the encoding of N in-flight records for the changelog (orjson, as the worker's
table codec). References: the same N keys put into and popped from a plain dict, and
N ``OperationCall`` validations (the decode every message pays anyway). Memory is the
process's resident size before and after, so other processes do not disturb it; the
timings do depend on the machine's load: run it on a quiet machine to compare.
"""

from __future__ import annotations

import argparse
import gc
import os
import time
from collections.abc import Callable

import orjson

from detector.events import OperationCall
from detector.lifecycle.tracker import Lifecycle, Policy

T0 = 1_772_460_000.0


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def timed(label: str, n: int, fun: Callable[[], object]) -> float:
    started = time.perf_counter()
    fun()
    elapsed = time.perf_counter() - started
    print(f"  {label:<46} {elapsed:7.2f} s  {n / elapsed / 1000:9.0f} k/s")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    n = parser.parse_args().events
    policy = Policy(cap=n)
    ids = [f"ev-{i:08d}" for i in range(n)]

    def calls(status: str, offset: float) -> list[OperationCall]:
        # Built with model_construct: the decode cost is measured apart, below.
        return [
            OperationCall.model_construct(
                operation="Op",
                timestamp=T0 + i * 1e-4 + offset,
                status=status,
                event_id=e,
                count=None,
            )
            for i, e in enumerate(ids)
        ]

    received, processing, delivered = (
        calls("received", 0),
        calls("processing", 1),
        calls("success", 2),
    )
    gc.collect()
    print(f"{n:,} events in flight, one operation (shared busy machine: compare within a run)")
    life = Lifecycle()
    before = rss_mb()
    timed(
        "received (enter in-flight state)", n, lambda: [life.observe(c, policy) for c in received]
    )
    gc.collect()
    grown = rss_mb() - before
    print(f"  memory of the in-flight state: {grown:,.0f} MB, {grown * 2**20 / n:,.0f} bytes/event")
    timed("processing (new phase)", n, lambda: [life.observe(c, policy) for c in processing])
    print(f"  in flight: {life.in_flight:,}, overflow {life.overflow}")
    last = int(T0 + n * 1e-4 + 2) // 60 * 60
    timed("boundary, none stuck", 1, lambda: life.close(last + 60, policy))
    stuck = life.close(last + 20 * 60, policy)
    timed("boundary, all stuck", 1, lambda: life.close(last + 21 * 60, policy))
    print(f"  stuck at +20 min: {max((s.stuck for s in stuck.values()), default=0):,}")
    timed(
        "changelog records (orjson, per event)",
        n,
        lambda: [orjson.dumps(e.to_list()) for e in life.open.values()],
    )
    done = [
        c.model_copy(update={"timestamp": last + 1260 + i * 1e-4}) for i, c in enumerate(delivered)
    ]
    timed("delivered (leave in-flight state)", n, lambda: [life.observe(c, policy) for c in done])
    print(f"  in flight after: {life.in_flight:,}")
    print("references")
    plain: dict[str, list[object]] = {}
    timed("dict: put N keys", n, lambda: [plain.__setitem__(e, ["received", T0, T0]) for e in ids])
    timed("dict: pop N keys", n, lambda: [plain.pop(e) for e in ids])
    raw = [orjson.dumps({"operation": "Op", "status": "received", "timestamp": T0, "event_id": e})
           for e in ids[: n // 10]]  # fmt: skip
    timed("decode N/10 messages (OperationCall)", n // 10,
          lambda: [OperationCall.model_validate_json(r) for r in raw])  # fmt: skip


if __name__ == "__main__":
    main()
