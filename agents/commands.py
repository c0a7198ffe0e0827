"""The file-based commands behind the CLI: replay a file of events, write simulated
traffic to a file. Shell code: they read and write files and report progress."""

from __future__ import annotations

import heapq
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import chain, islice
from pathlib import Path
from typing import IO

import orjson

from detector.backtest import backtest, render
from detector.cardinality import Roster
from detector.errors import ConfigError
from detector.events import LIMITS, Limits
from detector.ingest import DecodedBatch
from detector.opconfig import DetectionConfig
from detector.replay import BLOCK, Replay, ReplayStats, decode_lines
from detector.simulate import Incident, simulated
from detector.simulate_events import LIFECYCLE_PROFILES, LifecycleIncident, lifecycle_events
from detector.status import StatusChange

LISTED = 20  # Invalid lines reported one by one per reason; the rest only counted.


def read_blocks(
    path: Path, invalid: Counter[str], limits: Limits = LIMITS, roster: Roster | None = None
) -> Iterator[DecodedBatch]:
    """A JSON-lines file in decoded blocks (``detector.replay.decode_lines``); bad lines,
    and new operations past the caps of ``roster`` (as the worker refuses them), are
    counted by reason in ``invalid``, the first ones reported on stderr, and skipped."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        first = 1
        while lines := list(islice(handle, BLOCK)):
            decoded = decode_lines(lines, first, limits, roster)
            for record, error in decoded.invalid:
                invalid[error.reason] += 1
                if invalid[error.reason] <= LISTED:
                    print(f"{path}:{record.offset}: skipped: {error}", file=sys.stderr)
            first += len(lines)
            yield decoded


def run_replay(
    path: Path,
    config: DetectionConfig,
    window: int,
    out: IO[bytes] | None,
    limits: Limits = LIMITS,
    report: IO[str] | None = None,
    roster: Roster | None = None,
) -> None:
    """Replay a file; the changes go to ``out``, the backtest report to ``report``."""
    stats, invalid = ReplayStats(), Counter[str]()
    started = time.perf_counter()
    changes: list[StatusChange] = []
    run = Replay(config, window, stats)
    blocks = read_blocks(path, invalid, limits, roster)
    for found in chain((list(run.feed(decoded)) for decoded in blocks), [list(run.finish())]):
        if out is not None and found:
            out.write(b"".join(change.model_dump_json().encode() + b"\n" for change in found))
        changes += found
    elapsed = time.perf_counter() - started
    if report is not None:
        until = datetime.fromtimestamp(stats.newest, tz=UTC)
        report.write("\n".join(render(backtest(changes, until))) + "\n")
    print(
        f"replay: {stats.events:,} events ({stats.calls:,} calls, {len(stats.operations)} "
        f"operations) in {elapsed:.1f} s: {len(changes)} status changes; "
        f"{invalid.total()} invalid lines skipped; {stats.late} events out of order skipped"
        + "".join(f"; {reason}: {n:,}" for reason, n in invalid.most_common()),
        file=sys.stderr,
    )


def write_simulation(
    out: IO[bytes],
    start: int,
    end: int,
    incidents: list[Incident],
    seed: int,
    lifecycle: list[LifecycleIncident] | None = None,
    realistic: bool = True,
) -> int:
    """Simulated traffic as JSON lines in timestamp order (``realistic``: the realistic
    families, ``detector.simulate.Realism``); with ``lifecycle``, the lifecycle
    operations' status messages too."""
    written = 0
    total = max(1, end - start)
    last_report = time.monotonic()
    records = simulated(incidents, start, end, seed, realistic)
    if lifecycle is not None:
        events = lifecycle_events(LIFECYCLE_PROFILES, lifecycle, start, end, seed=seed)
        records = heapq.merge(records, events, key=lambda r: float(r["timestamp"]))
    for record in records:
        out.write(orjson.dumps(record) + b"\n")
        written += 1
        if sys.stderr.isatty() and time.monotonic() - last_report > 0.5:
            done = (record["timestamp"] - start) / total
            print(f"\rsimulate: {done:.0%} ({written:,} records)", end="", file=sys.stderr)
            last_report = time.monotonic()
    return written
