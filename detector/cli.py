"""The ``detector`` command: run the worker, publish simulated traffic, replay a file."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from detector.errors import DetectorError
from detector.settings import Settings, load_settings

DESCRIPTION = """\
Integration-health detector: watches every call between your systems on Kafka and says,
per operation, whether it is ok, has some problems, many problems, or no calls.

Settings come from DETECTOR_* environment variables or a .env file
(run `detector settings` to list them all)."""


def _worker(args: argparse.Namespace) -> int:
    import faust

    from agents.app import create_app

    settings = load_settings()
    detector = create_app(settings)
    print(
        f"detector: worker {settings.app_id} on {settings.broker}; dashboard and metrics at "
        f"http://{settings.web_host}:{settings.web_port}/ and /metrics",
        flush=True,
    )
    worker = faust.Worker(detector.app, loglevel=settings.log_level, quiet=args.quiet)
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


def _settings(_args: argparse.Namespace) -> int:
    for name, field in Settings.model_fields.items():
        default = "" if field.default is None else field.default
        print(f"DETECTOR_{name.upper():<28} default {default!s:<24} {field.description}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="detector", description=DESCRIPTION, formatter_class=argparse.RawTextHelpFormatter
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
    sub.add_parser("settings", help="list every setting with its default").set_defaults(
        run=_settings
    )
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
