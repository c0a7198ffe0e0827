"""The dashboard's operation list: problems first, filtered and paged on the server."""

from __future__ import annotations

import time
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from detector.listing import MAX_LIMIT, Query, select

STATUSES = ["ok", "learning", "some_problems", "many_problems", "no_calls"]


def rec(operation: str, status: str, integration: str | None = None) -> dict[str, Any]:
    return {"operation": operation, "status": status, "integration": integration}


RECORDS = [
    rec("Web.Form", "ok", "web"),
    rec("Web.Pay", "many_problems", "web"),
    rec("Crm.Sync", "no_calls", "crm"),
    rec("Crm.Push", "some_problems", "crm"),
    rec("Pos.Sale", "learning"),
    {"operation": 7, "status": "ok"},  # Unusable: skipped, never an error.
    {"status": "weird", "operation": "X"},
]


def names(query: Query) -> list[str]:
    return [r["operation"] for r in select(RECORDS, query).rows]


def test_problems_first_worst_first() -> None:
    assert names(Query()) == ["Web.Pay", "Crm.Sync", "Crm.Push", "Pos.Sale", "Web.Form"]


def test_filters() -> None:
    assert names(Query(status="problems")) == ["Web.Pay", "Crm.Sync", "Crm.Push"]
    assert names(Query(status="ok")) == ["Web.Form"]
    assert names(Query(integration="crm")) == ["Crm.Sync", "Crm.Push"]
    assert names(Query(integration="other")) == ["Pos.Sale"]
    assert names(Query(q="web.")) == ["Web.Pay", "Web.Form"]
    page = select(RECORDS, Query(status="problems", offset=1, limit=1))
    assert [r["operation"] for r in page.rows] == ["Crm.Sync"]
    assert (page.total, page.operations, page.problems) == (3, 5, 3)
    assert page.integrations == ["crm", "other", "web"]


@given(
    st.lists(
        st.tuples(st.text(max_size=5), st.sampled_from(STATUSES), st.sampled_from(["a", "b", None]))
    ),
    st.integers(0, 30),
    st.integers(1, 30),
)
def test_pages_partition_the_matching_rows(
    rows: list[tuple[str, str, str | None]], offset: int, limit: int
) -> None:
    records = [rec(*r) for r in rows]
    everything = select(records, Query(limit=MAX_LIMIT, status="problems")).rows
    page = select(records, Query(offset=offset, limit=limit, status="problems"))
    assert page.rows == everything[offset : offset + limit]
    assert page.total == len(everything)


def test_a_page_of_100k_operations_is_quick() -> None:
    """Timed budget (generous, the machine is shared): one pass, one sort, one page."""
    records = [rec(f"Op.{i}", STATUSES[i % 5], f"int{i % 50}") for i in range(100_000)]
    started = time.perf_counter()
    page = select(records, Query(status="problems", q="op.1", limit=100))
    assert time.perf_counter() - started < 1.0
    assert len(page.rows) == 100
    assert page.rows[0]["status"] == "many_problems"
