"""Pages and JSON API of the dashboard (see deploy/openapi.yaml).

The dashboard and its API list every operation from the global summaries table, so any
worker serves all of them, to logged-in users (``agents.web.auth``): an admin sees every
operation, a viewer those of the integrations granted. Logs are behind signed, expiring
links: the API mints one per visible operation, mails carry one per incident, and
anything unsigned, altered or expired gets 403 with a plain sentence. Payloads, error
messages and record ids are masked (``detector.masking``) unless the detection config's
``masking`` rules reveal them.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from agents.links import LinkMaker
from agents.web.auth import current_user, link_route
from detector import links, timeline
from detector.lifecycle.durations import CAP
from detector.listing import MAX_LIMIT, Query, select
from detector.masking import FieldRules, mask_text
from detector.oplog import LogEntry, groups
from detector.summary import OperationSummary
from detector.timeline import EventEntry

STATIC = Path(__file__).parent / "static"
LogReader = Callable[[str, float, float], Awaitable[list[LogEntry]]]
MaskRules = Callable[[str, str | None], FieldRules]


class Dashboard:
    def __init__(
        self,
        summaries: Callable[[], Mapping[str, Any]],
        read_log: LogReader,
        links: LinkMaker,
        fields: MaskRules,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.summaries = summaries
        self.read_log = read_log
        self.links = links
        self.fields = fields
        self.clock = clock

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/", self.index)
        app.router.add_static("/static/", STATIC)
        app.router.add_get("/api/operations", self.operations)
        app.router.add_get("/api/operations/{operation}", self.operation)
        app.router.add_get("/api/operations/{operation}/log", self.log_api)
        app.router.add_get("/operations/{operation}/log", self.log_page)

    async def index(self, _request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html")

    def _row(self, raw: Mapping[str, Any], now: float) -> dict[str, Any]:
        summary = OperationSummary.model_validate(raw)
        # Around the current status's start: its lead-up and everything since.
        at = summary.since or now
        url = self.links.url(summary.operation, at, now, relative=True)
        # Reasons may quote error codes from the events: masked like the log.
        row = summary.model_dump(mode="json") | {"reason": mask_text(summary.reason)}
        return {**row, "log_url": url}

    def _visible(self, request: web.Request) -> list[Mapping[str, Any]]:
        user = current_user(request)
        return [
            raw
            for raw in list(self.summaries().values())
            if isinstance(raw, Mapping) and user is not None and user.sees(raw.get("integration"))
        ]

    async def operations(self, request: web.Request) -> web.Response:
        """One page of the operations, problems first (``detector.listing``)."""
        now = self.clock()
        query = _query(request)
        # Off the event loop: a pass over 100,000 operations takes about a second.
        found = await asyncio.to_thread(lambda: select(self._visible(request), query))
        rows = []
        for raw in found.rows:
            try:
                rows.append(self._row(raw, now))
            except ValueError:  # A summary that fails validation is left out, not a 500.
                continue
        return web.json_response(
            {
                "generated_at": now,
                "operations": rows,
                "total": found.total,
                "offset": query.offset,
                "limit": query.limit,
                "all": found.operations,
                "problems": found.problems,
                "statuses": found.statuses,
                "integrations": found.integrations,
            }
        )

    async def operation(self, request: web.Request) -> web.Response:
        raw = self.summaries().get(request.match_info["operation"])
        user = current_user(request)
        # Another integration's operation is "not found", as if it did not exist.
        if not raw or user is None or not user.sees(raw.get("integration")):
            raise web.HTTPNotFound(text="No such operation.")
        return web.json_response(self._row(raw, self.clock()))

    def _verify(self, request: web.Request) -> links.LogLink:
        try:
            return links.verify(
                self.links.secret,
                request.match_info["operation"],
                dict(request.query),
                self.clock(),
            )
        except links.LinkError as exc:
            raise web.HTTPForbidden(text=str(exc)) from None

    @link_route
    async def log_page(self, request: web.Request) -> web.StreamResponse:
        self._verify(request)
        return web.FileResponse(STATIC / "log.html")

    @link_route
    async def log_api(self, request: web.Request) -> web.Response:
        link = self._verify(request)
        query = request.query
        start = max(link.start, _number(query.get("since"), link.start))
        # Never past now: the client pins `until` to the `to` it was first served, so
        # entries arriving later do not shift the pages being read.
        end = min(link.end, _number(query.get("until"), link.end), self.clock())
        statuses = set(query.getall("status", [])) or None
        kinds = set(query.getall("kind", [])) or None
        number = max(1, int(_number(query.get("page"), 1)))
        event_types = set(query.getall("event_type", [])) or None
        record = query.get("record") or None
        entries = await self.read_log(link.operation, start, end)
        rules = functools.cache(self.fields)
        # Filters and groups see what is shown: messages and record ids masked first,
        # so a masked value cannot be found by searching for it.
        shown = [e.masked(rules(e.operation, e.integration), payload=False) for e in entries]
        summary = self.summaries().get(link.operation)
        stuck_after = (summary.get("stuck_after") if isinstance(summary, Mapping) else None) or CAP
        every = timeline.rows(shown, end, stuck_after)
        found, total = timeline.page(
            every,
            statuses=statuses,
            kinds=kinds,
            number=number,
            event_types=event_types,
            record=record,
            entry=query.get("entry") or None,
        )
        return web.json_response(
            {
                "operation": link.operation,
                "from": start,
                "to": end,
                "page": number,
                "total": total,
                "stuck": sum(isinstance(r, EventEntry) and r.stuck for r in every),
                "stuck_after": stuck_after,
                "event_types": sorted({e.event_type for e in shown if e.event_type})[:200],
                "entries": [
                    r.masked(rules(r.operation, r.integration), fields=False).model_dump(
                        mode="json"
                    )
                    for r in found
                ],
                "groups": [
                    g.model_dump(mode="json")
                    for g in groups(timeline.select(every, event_types=event_types, record=record))
                ],
            }
        )


def _number(text: str | None, default: float) -> float:
    try:
        return float(text) if text else default
    except ValueError:
        raise web.HTTPBadRequest(text=f"{text!r} is not a number.") from None


def _query(request: web.Request) -> Query:
    """The listing query from the URL; a bad number is a 400 naming the parameter."""
    params = request.query
    numbers = {}
    for name, default in (("offset", 0), ("limit", 500)):
        text = params.get(name, str(default))
        if not text.isdigit() or (name == "limit" and not 1 <= int(text) <= MAX_LIMIT):
            raise web.HTTPBadRequest(
                text=f"{name} must be a whole number (limit: 1 to {MAX_LIMIT}), got {text[:20]!r}"
            )
        numbers[name] = int(text)
    return Query(
        status=params.get("status") or None,
        integration=params.get("integration"),
        q=params.get("q", "")[:200],
        offset=numbers["offset"],
        limit=numbers["limit"],
    )
