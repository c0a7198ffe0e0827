"""The caps on tracked operations: known ones always pass, new ones while there is room."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from detector.cardinality import Roster


def test_caps_per_worker_and_per_integration() -> None:
    roster = Roster(max_operations=3, max_per_integration=2)
    integrations = {"A": "web", "B": "web", "C": "web", "D": None, "E": "pos"}
    refused = roster.refuse(["A", "B", "C", "D", "E", "A"], integrations)
    assert set(refused) == {"C", "E"}
    assert "DETECTOR_MAX_OPERATIONS_PER_INTEGRATION" in refused["C"]
    assert "'web'" in refused["C"]
    assert "DETECTOR_MAX_OPERATIONS)" in refused["E"]
    assert roster.refuse(["A", "B", "D"], integrations) == {}  # Known ones always pass.


def test_sync_starts_over_from_the_tables() -> None:
    roster = Roster(max_operations=2, max_per_integration=2)
    roster.refuse(["A", "B"], {})
    roster.sync([("A", None)])  # B was evicted or moved to another worker.
    assert roster.refuse(["C"], {}) == {}
    assert set(roster.refuse(["D"], {})) == {"D"}


def test_a_dropped_operation_frees_its_place_under_both_caps() -> None:
    roster = Roster(max_operations=2, max_per_integration=1)
    roster.refuse(["A", "B"], {"A": "web", "B": "pos"})
    assert set(roster.refuse(["C"], {"C": "crm"})) == {"C"}
    roster.drop("A")  # Evicted: idle for DETECTOR_IDLE_DAYS.
    roster.drop("Unknown")
    assert roster.refuse(["C"], {"C": "web"}) == {}
    assert set(roster.refuse(["A"], {"A": "web"})) == {"A"}  # Back, but now over the caps.
    assert dict(roster.per_integration) == {"web": 1, "pos": 1}


@given(
    st.integers(1, 20),
    st.integers(1, 20),
    st.lists(st.tuples(st.sampled_from("ABCDEFGHIJKLMNOP"), st.sampled_from(["x", "y", None]))),
)
def test_the_caps_always_hold(cap: int, per: int, calls: list[tuple[str, str | None]]) -> None:
    roster = Roster(max_operations=cap, max_per_integration=per)
    for n, (operation, integration) in enumerate(calls):
        roster.refuse([operation], {operation: integration})
        if n % 3 == 2:
            roster.drop(operation)
    assert len(roster.operations) <= cap
    assert all(n <= per for n in roster.per_integration.values())
    assert sum(roster.per_integration.values()) == len(roster.operations)
