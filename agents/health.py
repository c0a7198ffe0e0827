"""``/healthz`` (the process answers) and ``/readyz`` (it can do its job: the broker is
reachable, how far behind the consumer is, and the newest window judged). Open, like
``/metrics``: probes and load balancers have no login."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from agents.web.auth import open_route
from agents.web_metrics import last_judged

if TYPE_CHECKING:
    from agents.context import Detector

CONNECT_TIMEOUT = 1.0


async def broker_reachable(servers: str) -> bool:
    """Whether a TCP connection to any bootstrap server opens within a second."""
    for server in servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(host or "127.0.0.1", int(port)), CONNECT_TIMEOUT
            )
        except (OSError, ValueError, TimeoutError):
            continue
        writer.close()
        return True
    return False


def consumer_lag(detector: Detector) -> int | None:
    """Messages not yet read from the calls topic, summed over this worker's partitions
    (as last measured by the ingest agent); None before the first batch."""
    samples = [s for family in detector.metrics.lag.collect() for s in family.samples]
    return int(sum(s.value for s in samples)) if samples else None


def register(detector: Detector) -> None:
    @open_route
    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    @open_route
    async def readyz(_request: web.Request) -> web.Response:
        broker = await broker_reachable(detector.settings.broker)
        judged = last_judged(detector.models, detector.quarantine)
        body: dict[str, Any] = {
            "status": "ready" if broker else "broker unreachable",
            "broker": broker,
            "brokers": detector.settings.broker,
            "consumer_lag": consumer_lag(detector),
            "last_judged_window_end": judged,
            "last_judged_seconds_ago": None if judged is None else round(time.time() - judged),
        }
        if not broker:
            body["error"] = (
                f"no Kafka broker of DETECTOR_BROKER={detector.settings.broker} accepts a "
                "connection: the worker waits and resumes by itself once one does"
            )
        return web.json_response(body, status=200 if broker else 503)

    web_app: web.Application = detector.app.web.web_app  # type: ignore[attr-defined]
    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/readyz", readyz)
