"""The dashboard's list of operations, filtered and paged on the server.

With 100,000 operations the whole list is tens of megabytes and no browser renders it,
so the API answers one page: problems first (the worst first), then by integration and
name, filtered by status, integration and a search text. It works on the stored
summary records as they are (plain mappings), so a page costs one pass over the keys
and the rows of that page only; a record without a usable name or status is skipped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from detector.status import PROBLEMS, Status

# Worst first: the order a person triages in.
RANK = {
    Status.MANY_PROBLEMS.value: 0,
    Status.NO_CALLS.value: 1,
    Status.SOME_PROBLEMS.value: 2,
    Status.LEARNING.value: 3,
    Status.OK.value: 4,
}
PROBLEM_VALUES = frozenset(s.value for s in PROBLEMS)
MAX_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class Query:
    status: str | None = None  # A status, or "problems".
    integration: str | None = None  # "" or "other": operations without one.
    q: str = ""  # Case-insensitive part of the operation name.
    offset: int = 0
    limit: int = 500

    def matches(self, operation: str, integration: str | None, status: str) -> bool:
        if self.status == "problems":
            if status not in PROBLEM_VALUES:
                return False
        elif self.status and status != self.status:
            return False
        if self.integration is not None and (integration or "other") != (
            self.integration or "other"
        ):
            return False
        return not self.q or self.q.lower() in operation.lower()


@dataclass(slots=True)
class Page:
    rows: list[Mapping[str, Any]] = field(default_factory=list)
    total: int = 0  # Matching the query, on every page.
    operations: int = 0  # Visible at all, before the query.
    problems: int = 0
    integrations: list[str] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)


def select(records: Iterable[Mapping[str, Any]], query: Query) -> Page:
    page = Page()
    matching: list[tuple[int, str, str, Mapping[str, Any]]] = []
    integrations: set[str] = set()
    statuses: Counter[str] = Counter()
    for raw in records:
        operation, status = raw.get("operation"), raw.get("status")
        integration = raw.get("integration")
        if type(operation) is not str or status not in RANK:
            continue
        if integration is not None and type(integration) is not str:
            continue
        page.operations += 1
        statuses[status] += 1
        integrations.add(integration or "other")
        if query.matches(operation, integration, status):
            matching.append((RANK[status], integration or "", operation, raw))
    matching.sort(key=lambda m: m[:3])
    page.total = len(matching)
    page.problems = sum(statuses[s] for s in PROBLEM_VALUES)
    page.statuses = dict(statuses)
    page.integrations = sorted(integrations)
    start = max(0, query.offset)
    page.rows = [m[3] for m in matching[start : start + max(0, min(query.limit, MAX_LIMIT))]]
    return page
