"""The ``detector`` command (the shell's entry point): run the worker, publish simulated
traffic, replay a file, follow status changes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import get_args

from agents import users_cli
from agents.settings import Settings, load_settings
from detector.errors import ConfigError, DetectorError
from detector.simulate import Incident, Kind
from detector.simulate_events import LIFECYCLE_KINDS, LIFECYCLE_PROFILES, LifecycleIncident
from detector.status import Status

KINDS = get_args(Kind)

DESCRIPTION = """\
Integration-health detector: watches every call between your systems on Kafka and says,
per operation, whether it is ok, has some problems, many problems, or no calls.

Settings come from DETECTOR_* environment variables or a .env file
(run `detector settings` to list them all)."""

EPILOG = """examples:
  detector worker                                    run the worker on the local broker
  detector simulate --incident silence:Pos.Sale:20   publish traffic with a 20-min outage
  detector simulate --incident stuck:Crm.ContactSync:30   events stuck in processing
  detector watch                                     follow the status changes
  detector users add anna --role admin --generate    a dashboard admin, password shown once
  detector replay events.jsonl --config rules.yaml > changes.jsonl
  detector subscriptions test Website.Subscribe --status many_problems   who is told"""


def _worker(args: argparse.Namespace) -> int:
    import faust

    from agents import stopping
    from agents.app import create_app

    class Worker(faust.Worker):
        async def on_stop(self) -> None:
            stopping.bound()
            await super().on_stop()

    settings = load_settings()
    detector = create_app(settings)
    print(
        f"detector: worker {settings.app_id} on {settings.broker}; dashboard and metrics at "
        f"http://{settings.web_host}:{settings.web_port}/ and /metrics",
        flush=True,
    )
    worker = Worker(detector.app, loglevel=settings.log_level, quiet=args.quiet)
    # No terminal spinner: at warn level and above it sets the root logger to DEBUG (to
    # turn at every record), so every debug line of aiokafka and Faust is formatted and
    # dropped; per message sent, that cost the ingest some 5% of its time.
    worker.spinner = None
    worker.execute_from_commandline()
    return 0


def _watch(args: argparse.Namespace) -> int:
    import asyncio

    from agents.clients import follow_changes

    settings = load_settings()

    def invalid(raw: bytes) -> None:
        print(
            f"detector: skipped a message that is not a status change: {raw[:80]!r}",
            file=sys.stderr,
        )

    async def run() -> None:
        changes = follow_changes(
            settings.broker,
            settings.status_topic,
            from_beginning=args.from_beginning,
            on_invalid=invalid,
        )
        async for change in changes:
            if args.json:
                print(change.model_dump_json(), flush=True)
            else:
                previous = change.previous.label if change.previous else "new"
                print(
                    f"{change.at:%Y-%m-%d %H:%M} {change.operation}: {previous} -> "
                    f"{change.status.label}. {change.reason}",
                    flush=True,
                )

    asyncio.run(run())
    return 0


def _replay(args: argparse.Namespace) -> int:
    from agents.commands import run_replay
    from agents.files import load_detection_config
    from detector.cardinality import Roster

    settings = load_settings(**({"detection_config": args.config} if args.config else {}))
    config = load_detection_config(settings)
    window = args.window_seconds or settings.window_seconds
    limits = settings.limits
    report = sys.stdout if args.report else None
    # The worker's caps: what it would refuse is refused here too, and the replay's cost
    # stays bounded (every tracked operation is judged at every window).
    roster = Roster(settings.max_operations, settings.max_operations_per_integration)
    if args.output:
        with open(args.output, "wb") as out:
            run_replay(Path(args.events), config, window, out, limits, report, roster)
    else:
        sink = None if args.report else sys.stdout.buffer
        run_replay(Path(args.events), config, window, sink, limits, report, roster)
    return 0


def _incidents(
    specs: list[str], start: int, lifecycle: bool = False
) -> tuple[list[Incident], list[LifecycleIncident] | None]:
    """``kind:operation:minutes`` specs, starting at ``start``: the call incidents, and
    the lifecycle incidents (None: no lifecycle traffic unless ``lifecycle``)."""
    incidents: list[Incident] = []
    events: list[LifecycleIncident] = []
    for spec in specs:
        try:
            kind, operation, minutes = spec.split(":")
            end = start + int(minutes) * 60
        except ValueError:
            raise ConfigError(f"--incident {spec!r}: expected kind:operation:minutes") from None
        if kind in LIFECYCLE_KINDS:
            events.append(LifecycleIncident(operation, kind, start, end))
        elif kind in KINDS:
            incidents.append(Incident(operation, kind, start, end))  # type: ignore[arg-type]
        else:
            kinds = ", ".join([*KINDS, *LIFECYCLE_KINDS])
            raise ConfigError(f"--incident {spec!r}: kind must be one of {kinds}")
    return incidents, (events if events or lifecycle else None)


def _simulate(args: argparse.Namespace) -> int:
    import asyncio
    import time

    from detector.simulate import suite_incidents

    now = int(time.time()) // 60 * 60
    if args.to_file:
        from agents.commands import write_simulation

        start = now - args.days * 86400 if args.start is None else args.start
        start = start - start % 86400
        labelled = suite_incidents(start, realistic=not args.plain) if args.suite else []
        injected, lifecycle = _incidents(args.incident, now, args.lifecycle)
        end = start + args.days * 86400
        with open(args.to_file, "wb") as out:
            written = write_simulation(
                out, start, end, labelled + injected, args.seed, lifecycle, not args.plain
            )
        print(f"simulate: wrote {written:,} records to {args.to_file}", file=sys.stderr)
        return 0
    from agents.clients import simulate_live

    settings = load_settings()
    incidents, lifecycle = _incidents(args.incident, now, args.lifecycle)
    print(
        f"simulate: publishing to {settings.calls_topic} on {settings.broker} (Ctrl-C to stop)",
        flush=True,
    )
    asyncio.run(
        simulate_live(
            settings.broker,
            settings.calls_topic,
            partitions=settings.partitions,
            backfill_seconds=int(args.backfill_hours * 3600),
            incidents=incidents,
            seed=args.seed,
            minutes=args.minutes,
            report=lambda line: print(f"simulate: {line}", flush=True),
            lifecycle=lifecycle,
            realistic=not args.plain,
        )
    )
    return 0


def _settings(_args: argparse.Namespace) -> int:
    from agents.notify.settings import NotifySettings

    for prefix, model in (("DETECTOR_", Settings), ("DETECTOR_NOTIFY_", NotifySettings)):
        for name, field in model.model_fields.items():
            default = "" if field.default is None else field.default
            print(f"{prefix}{name.upper():<28} default {default!s:<24} {field.description}")
    return 0


def _subscriptions_test(args: argparse.Namespace) -> int:
    import time

    from agents.notify.reload import SubscriptionsFile
    from agents.notify.settings import NotifySettings
    from detector.events import parse_timestamp
    from detector.notify.routes import describe, routes, unexpected

    notify = NotifySettings()
    path = Path(args.file) if args.file else notify.subscriptions
    if path is None:
        raise ConfigError("no subscriptions file: give --file or set DETECTOR_NOTIFY_SUBSCRIPTIONS")
    subs = SubscriptionsFile(path, notify.webhook_url, notify.alertmanager_url).current
    try:
        now = time.time() if args.at is None else parse_timestamp(args.at)
    except ValueError as exc:
        raise ConfigError(f"--at: {exc}") from None
    status = Status(args.status) if args.status else None
    found = routes(subs, args.operation, args.integration, status, now)
    print(f"{path}: {len(subs.subscribers)} subscribers")
    for line in describe(found, args.operation, args.integration, status):
        print(line)
    if args.expect is not None:
        problem = unexpected(found, args.expect)
        if problem is not None:
            print(f"detector: routing differs from --expect: {problem}", file=sys.stderr)
            return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="detector",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawTextHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    worker = sub.add_parser(
        "worker", help="run the Faust worker: ingest, detect, publish, serve /metrics"
    )
    worker.add_argument("--quiet", action="store_true", help="no banner, only log lines")
    worker.set_defaults(run=_worker)
    watch = sub.add_parser(
        "watch", help="print status changes as they are published (each id once)"
    )
    watch.add_argument(
        "--from-beginning", action="store_true", help="start at the oldest change kept"
    )
    watch.add_argument("--json", action="store_true", help="one JSON object per line")
    watch.set_defaults(run=_watch)
    replay = sub.add_parser(
        "replay",
        help="run the detector over a file of events, print the status changes",
        description="Replay EVENTS (JSON lines in the topic's format, in timestamp order) "
        "through the same detector the worker runs; status changes go to stdout as JSON "
        "lines. Invalid lines are reported on stderr with their line number and skipped.",
    )
    replay.add_argument("events", metavar="EVENTS.jsonl")
    replay.add_argument("--config", help="detection rules file (as DETECTOR_DETECTION_CONFIG)")
    replay.add_argument("--output", "-o", help="write the changes here instead of stdout")
    replay.add_argument("--window-seconds", type=int, help="window size (as the worker's)")
    replay.add_argument(
        "--report",
        action="store_true",
        help="print per operation the problem episodes, alarms per 100 days and how long "
        "the evidence ran (the changes go to --output only)",
    )
    replay.set_defaults(run=_replay)
    simulate = sub.add_parser(
        "simulate",
        help="publish realistic traffic for a dozen operations (or write it to a file)",
        description="Simulated traffic with a daily and weekly rhythm: busy and rare, "
        "office-hours and nightly-batch operations, one with a high normal error ratio.",
    )
    simulate.add_argument(
        "--to-file", metavar="PATH", help="write JSON lines instead of publishing"
    )
    simulate.add_argument("--days", type=int, default=35, help="days of traffic for --to-file")
    simulate.add_argument("--start", type=int, help="first day (epoch seconds) for --to-file")
    simulate.add_argument(
        "--suite", action="store_true", help="with --to-file: add the labelled incidents"
    )
    simulate.add_argument(
        "--incident",
        action="append",
        default=[],
        metavar="KIND:OPERATION:MINUTES",
        help="inject an incident starting now; KIND is one of "
        f"{', '.join([*KINDS, *LIFECYCLE_KINDS])} (the last two: lifecycle operations)",
    )
    simulate.add_argument(
        "--lifecycle",
        action="store_true",
        help="also send every status of each event for "
        f"{', '.join(p.operation for p in LIFECYCLE_PROFILES)} (received, processing, "
        "retrying, delivered or failed)",
    )
    simulate.add_argument(
        "--backfill-hours",
        type=float,
        default=192.0,
        help="history to publish first (live): 8 days, so expectations show at once",
    )
    simulate.add_argument("--minutes", type=int, help="stop after this many minutes (live)")
    simulate.add_argument("--seed", type=int, default=1)
    simulate.add_argument(
        "--plain",
        action="store_true",
        help="Poisson traffic around a smooth seasonal level (the old suite), not realistic",
    )
    simulate.set_defaults(run=_simulate)
    subscriptions = sub.add_parser(
        "subscriptions", help="check the subscriptions file (see `subscriptions test -h`)"
    )
    subs_sub = subscriptions.add_subparsers(dest="action", required=True, metavar="ACTION")
    routes_test = subs_sub.add_parser(
        "test",
        help="who would be told of a status change, through which route and why",
        description="Print every subscriber whose operations or integrations match, whether "
        "a change to STATUS would be sent to them and why (statuses, recovery), and whether "
        "a mute window holds it now. Like `amtool config routes test`. Exits 2 with the "
        "file, entry and field when the file is invalid.",
    )
    routes_test.add_argument("operation", metavar="OPERATION")
    routes_test.add_argument("--integration", help="the operation's integration")
    routes_test.add_argument(
        "--status",
        choices=[s.value for s in Status],
        help="the new status (default: show which statuses each subscriber gets)",
    )
    routes_test.add_argument(
        "--at", help="when (RFC 3339 or epoch seconds), for mute windows; default now"
    )
    routes_test.add_argument(
        "--file", help="subscriptions file (default DETECTOR_NOTIFY_SUBSCRIPTIONS)"
    )
    routes_test.add_argument(
        "--expect",
        action="append",
        metavar="ADDRESS",
        help="exit 1 unless exactly these are told (repeat; an e-mail address, a webhook "
        "URL or alertmanager+URL), like amtool's --verify.receivers",
    )
    routes_test.set_defaults(run=_subscriptions_test)
    sub.add_parser("settings", help="list every setting with its default").set_defaults(
        run=_settings
    )
    users_cli.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except DetectorError as exc:
        print(f"detector: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
