"""Property: stationary traffic never flaps. Whatever the rate and the normal error ratio,
an operation whose traffic does not change gets `learning`, then `ok`, and nothing more."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detector.status import Status
from tests.unit.detection_helpers import poisson, run


# Derandomized: the budget allows a rare false alarm (5 of 5 calls failing in one minute at
# a 6% normal ratio happens about once in 4,000 operation-days), so a random search would
# now and then find one; a fixed set of examples keeps the property a stable check.
@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    rate=st.floats(min_value=0.05, max_value=40.0),
    error_ratio=st.floats(min_value=0.0, max_value=0.25),
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_stationary_traffic_never_flaps(rate: float, error_ratio: float, seed: int) -> None:
    _, changes = run(poisson(lambda ts: rate, error_ratio), 4, seed=seed)
    assert [c.status for c in changes] == [Status.LEARNING, Status.OK], [
        (c.at.isoformat(), c.status.value, c.reason) for c in changes
    ]
