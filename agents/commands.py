"""The file-based commands behind the CLI: replay a file of events, write simulated
traffic to a file. Shell code: they read and write files and report progress."""

from __future__ import annotations

import gc
import heapq
import multiprocessing
import multiprocessing.queues
import signal
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from queue import Empty
from typing import IO, Any

import orjson

from detector.backtest import backtest, render
from detector.cardinality import Roster
from detector.errors import ConfigError, DecodeError
from detector.events import LIMITS, Limits
from detector.ingest import RawRecord
from detector.opconfig import DetectionConfig
from detector.replay import BLOCK, Block, Counting, Replay, ReplayStats, decode_lines
from detector.simulate import Incident, simulated
from detector.simulate_events import LIFECYCLE_PROFILES, LifecycleIncident, lifecycle_events
from detector.status import StatusChange

Invalid = list[tuple[RawRecord, DecodeError]]
LISTED = 20  # Invalid lines reported one by one per reason; the rest only counted.
AHEAD_BYTES = 8 << 20  # Files smaller than this are read in the replay's own process.
AHEAD_BLOCKS = 2  # Blocks the reader process may be ahead by.


def read_blocks(
    path: Path,
    config: DetectionConfig,
    limits: Limits = LIMITS,
    roster: Roster | None = None,
    window: int = 60,
) -> Iterator[tuple[Invalid, Block | None]]:
    """A JSON-lines file in decoded blocks (``detector.replay.decode_lines``): each
    block's invalid lines and its counts (``detector.replay.Counting``; None when it
    has no valid line), then the lifecycles' last snapshots (``Counting.finish``) if
    any. New operations past the caps of ``roster`` are refused, as the worker refuses
    them."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    counting = Counting(config, window)
    with handle:
        first = 1
        while lines := list(islice(handle, BLOCK)):
            decoded = decode_lines(lines, first, limits, roster)
            first += len(lines)
            yield decoded.invalid, counting.count(decoded)
    tail = counting.finish()
    if tail is not None:
        yield [], tail


def read_ahead(
    path: Path,
    config: DetectionConfig,
    limits: Limits = LIMITS,
    roster: Roster | None = None,
    window: int = 60,
) -> Iterator[tuple[Invalid, Block | None]]:
    """``read_blocks``, from a forked process that reads, decodes and counts the next
    blocks while this one judges (the machine's second core): a replay then takes
    about the longer of the two halves instead of their sum. A small file, or a machine
    that cannot fork, is read here. An error in the reader is raised here, as if read
    here; the reader is stopped whenever this generator is closed."""
    try:
        small = path.stat().st_size < AHEAD_BYTES
        context = multiprocessing.get_context("fork")
    except (OSError, ValueError):
        small = True
    if small:
        yield from read_blocks(path, config, limits, roster, window)
        return
    queue: multiprocessing.queues.Queue[Any] = context.Queue(AHEAD_BLOCKS)
    reader = context.Process(target=_read_into, args=(queue, path, config, limits, roster, window))
    reader.daemon = True
    try:
        reader.start()
    except OSError:
        yield from read_blocks(path, config, limits, roster, window)
        return
    try:
        while True:
            try:
                item = queue.get(timeout=1.0)
            except Empty:
                if not reader.is_alive():
                    raise ConfigError(
                        f"reading {path} stopped: the reading process ended with exit code "
                        f"{reader.exitcode}"
                    ) from None
                continue
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        reader.terminate()
        reader.join()
        queue.close()


def _read_into(
    queue: multiprocessing.queues.Queue[Any],
    path: Path,
    config: DetectionConfig,
    limits: Limits,
    roster: Roster | None,
    window: int,
) -> None:
    """The reader process: every block into ``queue``, then None, or the error. Its
    collector runs once a block, not every few hundred objects: what it makes per line
    (a decoded dict each) is freed by reference counts, and the collector going through
    them cost a tenth of the reader's time."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the main process stops it.
    gc.disable()
    try:
        for item in read_blocks(path, config, limits, roster, window):
            queue.put(item)
            gc.collect()
        queue.put(None)
    except Exception as exc:  # Raised in the main process, as if read there.
        queue.put(exc)
    queue.close()
    queue.join_thread()


def run_replay(
    path: Path,
    config: DetectionConfig,
    window: int,
    out: IO[bytes] | None,
    limits: Limits = LIMITS,
    report: IO[str] | None = None,
    roster: Roster | None = None,
) -> None:
    """Replay a file; the changes go to ``out``, the backtest report to ``report``. Bad
    lines and refused operations are counted by reason, the first ones reported on
    stderr, and skipped."""
    # What start-up made (modules, the settings' models) lives to the end: the collector
    # need not go through it again and again while the replay makes its many objects.
    gc.freeze()
    stats, invalid = ReplayStats(), Counter[str]()
    started = time.perf_counter()
    changes: list[StatusChange] = []
    run = Replay(config, window, stats)
    blocks = read_ahead(path, config, limits, roster, window)
    for bad, block in blocks:
        for record, error in bad:
            invalid[error.reason] += 1
            if invalid[error.reason] <= LISTED:
                print(f"{path}:{record.offset}: skipped: {error}", file=sys.stderr)
        found = [] if block is None else list(run.apply(block))
        _write(out, found)
        changes += found
    found = list(run.finish())
    _write(out, found)
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


def _write(out: IO[bytes] | None, changes: list[StatusChange]) -> None:
    if out is not None and changes:
        out.write(b"".join(change.model_dump_json().encode() + b"\n" for change in changes))


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
