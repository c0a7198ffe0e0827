"""The simulator: deterministic per seed, continuous across ranges, and its incidents
change the traffic the way their labels say."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from detector.events import OperationCall
from detector.simulate import (
    FORMS,
    PLAIN,
    PROFILES,
    REALISTIC_PROFILES,
    Incident,
    Profile,
    Realism,
    generate,
    minute_rates,
)
from tests.unit.detection_helpers import DAY, MONDAY

SUBSCRIBE = PROFILES[0]


def tally(records: list[dict[str, object]]) -> tuple[int, int]:
    calls = errors = 0
    for record in records:
        n, e, _ = OperationCall.model_validate(record).tally()
        calls, errors = calls + n, errors + e
    return calls, errors


def test_same_seed_same_traffic_however_the_range_is_split() -> None:
    whole = list(generate([SUBSCRIBE], [], MONDAY, MONDAY + DAY, seed=5))
    halves = list(generate([SUBSCRIBE], [], MONDAY, MONDAY + DAY // 2, seed=5)) + list(
        generate([SUBSCRIBE], [], MONDAY + DAY // 2, MONDAY + DAY, seed=5)
    )
    assert whole == halves
    assert whole != list(generate([SUBSCRIBE], [], MONDAY, MONDAY + DAY, seed=6))


def test_records_follow_the_contract_and_the_daily_volume() -> None:
    records = list(generate([SUBSCRIBE], [], MONDAY, MONDAY + DAY))
    calls, errors = tally(records)
    assert abs(calls - SUBSCRIBE.calls_per_day) < 5 * SUBSCRIBE.calls_per_day**0.5
    assert 0 < errors < calls * 0.05
    timestamps = [r["timestamp"] for r in records]
    assert timestamps == sorted(timestamps)


def test_office_hours_operation_is_silent_at_weekends_and_nights() -> None:
    crm = Profile("Crm.Sync", "crm", 900, "office", 0.0)
    saturday = MONDAY + 5 * DAY
    assert list(generate([crm], [], saturday, saturday + 2 * DAY)) == []
    night = [
        r
        for r in generate([crm], [], MONDAY, MONDAY + DAY)
        if (int(r["timestamp"]) % DAY) < 9 * 3600
    ]
    assert night == []


def test_incidents_change_the_traffic() -> None:
    start, end = MONDAY + 12 * 3600, MONDAY + 14 * 3600
    normal = list(generate([SUBSCRIBE], [], start, end))
    failing = list(
        generate(
            [SUBSCRIBE], [Incident(SUBSCRIBE.operation, "all_failing", start, end)], start, end
        )
    )
    silent = list(
        generate([SUBSCRIBE], [Incident(SUBSCRIBE.operation, "silence", start, end)], start, end)
    )
    flood = list(
        generate([SUBSCRIBE], [Incident(SUBSCRIBE.operation, "flood", start, end)], start, end)
    )
    calls, _ = tally(normal)
    assert silent == []
    failing_calls, failing_errors = tally(failing)
    assert failing_calls == failing_errors > 0
    assert tally(flood)[0] > 5 * calls


REALISTIC = Realism(origin=MONDAY)


def test_realistic_traffic_is_deterministic_and_splits_like_plain() -> None:
    ops = REALISTIC_PROFILES[-3:]
    whole = list(generate(ops, [], MONDAY, MONDAY + DAY, seed=2, realism=REALISTIC))
    halves = list(generate(ops, [], MONDAY, MONDAY + DAY // 2, seed=2, realism=REALISTIC)) + list(
        generate(ops, [], MONDAY + DAY // 2, MONDAY + DAY, seed=2, realism=REALISTIC)
    )
    assert whole == halves


def test_realistic_hours_wobble_far_more_than_poisson() -> None:
    """The hourly level strays ~30% from the expectation: far beyond Poisson's ~2% at
    2,000 calls an hour (Mobile.Login at noon over two weeks of weekdays)."""
    login = next(p for p in PROFILES if p.operation == "Mobile.Login")
    ratios = []
    for day in (0, 1, 2, 3, 4, 7, 8, 9, 10, 11):
        noon = MONDAY + day * DAY + 12 * 3600
        plain = tally(list(generate([login], [], noon, noon + 3600, seed=4)))[0]
        real = tally(list(generate([login], [], noon, noon + 3600, seed=4, realism=REALISTIC)))[0]
        ratios.append(math.log(real / plain))
    assert 0.15 < float(np.std(ratios)) < 0.8


def test_a_holiday_is_a_weekend_for_people_and_nearly_quiet_for_the_office() -> None:
    tuesday = MONDAY + DAY
    holiday = dataclasses.replace(PLAIN, holidays=frozenset({tuesday}))
    crm = Profile("Crm.Sync", "crm", 900, "office", 0.0)
    pos = next(p for p in PROFILES if p.operation == "Pos.Sale")
    normal = tally(list(generate([pos], [], tuesday, tuesday + DAY, seed=1)))[0]
    off = list(generate([crm, pos], [], tuesday, tuesday + DAY, seed=1, realism=holiday))
    crm_calls = tally([r for r in off if r["operation"] == "Crm.Sync"])[0]
    pos_calls = tally([r for r in off if r["operation"] == "Pos.Sale"])[0]
    assert 0 < crm_calls < 0.1 * 900
    assert pos_calls > 1.1 * normal  # Pos sells more at weekends.


def test_a_sync_runs_every_fifteen_minutes_with_jitter() -> None:
    sync = next(p for p in REALISTIC_PROFILES if p.shape == "sync15")
    records = list(generate([sync], [], MONDAY, MONDAY + DAY, seed=3, realism=REALISTIC))
    minutes = sorted({int(r["timestamp"]) // 60 for r in records})
    runs = [m for i, m in enumerate(minutes) if i == 0 or m - minutes[i - 1] > 3]
    gaps = np.diff(runs)
    assert 90 <= len(runs) <= 96
    assert set(gaps.tolist()) - {15}  # Jitter moves runs ...
    assert all(10 <= g <= 20 for g in gaps)  # ... by a few minutes at most.


def test_campaigns_reach_forms_only() -> None:
    week = MONDAY + 7 * DAY
    only = dataclasses.replace(PLAIN, campaigns=True)
    for profile in PROFILES[:2]:  # Subscribe is a form, Unsubscribe is not.
        plain = tally(list(generate([profile], [], MONDAY, week, seed=5)))[0]
        real = tally(list(generate([profile], [], MONDAY, week, seed=5, realism=only)))[0]
        assert (real > 1.05 * plain) == (profile.operation in FORMS)


def test_clients_retrying_failures_add_failing_calls_in_clumps() -> None:
    week = MONDAY + 7 * DAY
    retrying = dataclasses.replace(PLAIN, error_retries=3)
    form = PROFILES[2]  # Registration: 10% failing.
    plain = list(generate([form], [], MONDAY, week, seed=5))
    real = list(generate([form], [], MONDAY, week, seed=5, realism=retrying))
    (calls, errors), (more_calls, more_errors) = tally(plain), tally(real)
    assert more_calls - calls == more_errors - errors  # Every retry fails again ...
    assert (more_errors - errors) % 3 == 0  # ... three at a time ...
    assert 1.2 * errors < more_errors - errors < 1.8 * errors  # ... for half the failures.


def test_the_operations_of_one_integration_share_their_hourly_wobble() -> None:
    """Subscribe and Registration (website) move together hour by hour; AuthCode (app)
    moves on its own."""
    only = dataclasses.replace(PLAIN, hour_integration=0.3)
    by_name = {p.operation: p for p in PROFILES}

    def wobble(operation: str) -> npt.NDArray[np.float64]:
        profile = by_name[operation]
        real, _ = minute_rates(profile, MONDAY, 3, 0, only)
        plain, _ = minute_rates(profile, MONDAY, 3, 0, PLAIN)
        return np.log(real[::60] / plain[::60])

    subscribe = wobble("Website.Subscribe")
    assert np.allclose(subscribe, wobble("Website.Registration"))
    assert 0.15 < float(np.std(subscribe)) < 0.5
    assert not np.allclose(subscribe, wobble("Mobile.AuthCode"), atol=0.05)


def test_the_level_before_bursty_minutes_is_steady_within_the_hour() -> None:
    """``bursty=False`` gives the level each minute's Gamma multiplier is drawn around
    (what the quality bench's silence target is computed at): the seasonal rate times
    the hour's wobble, the rest of the day drawn as with the multiplier (campaigns)."""
    realistic = Realism()
    form = REALISTIC_PROFILES[0]  # Subscribe: campaigns too.
    bursty, _ = minute_rates(form, MONDAY, 4, 0, realistic)
    level, _ = minute_rates(form, MONDAY, 4, 0, realistic, bursty=False)
    plain, _ = minute_rates(form, MONDAY, 4, 0, PLAIN)
    hourly = (level / plain).reshape(24, 60)
    campaign = ~np.isclose(hourly, hourly[:, :1]).all(axis=1)
    assert campaign.sum() <= 4  # At most the hours a 1-3 hour campaign touches.
    multiplier = bursty / level
    assert not np.allclose(multiplier, 1.0)
    assert 0.9 < float(np.mean(multiplier)) < 1.1  # Gamma(3, 1/3): mean 1.
    assert 0.4 < float(np.std(multiplier)) < 0.75  # ... and standard deviation 0.58.
    steady = dataclasses.replace(realistic, minute_shape=0.0)
    assert np.array_equal(
        minute_rates(form, MONDAY, 4, 0, steady, bursty=False)[0],
        minute_rates(form, MONDAY, 4, 0, steady)[0],
    )


async def test_the_live_simulator_publishes_its_history_in_time_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The lifecycle operations' history among the rest, not after it: published after
    the other operations' last hour, it would be counted late in their partitions."""
    from agents import clients

    sent: list[dict[str, Any]] = []

    async def publish(_broker: str, _topic: str, records: Iterable[dict[str, Any]]) -> int:
        sent.extend(records)
        return len(sent)

    async def ensure_topic(*_: Any) -> None:
        return None

    monkeypatch.setattr(clients, "publish", publish)
    monkeypatch.setattr(clients, "ensure_topic", ensure_topic)
    await clients.simulate_live(
        "broker", "calls", partitions=1, backfill_seconds=3 * 3600, incidents=[], seed=1,
        minutes=0, report=lambda _: None, lifecycle=[],
    )  # fmt: skip
    stamps = [float(r["timestamp"]) for r in sent]
    assert stamps == sorted(stamps)
    followed = [r for r in sent if r.get("event_id")]
    assert followed
    assert min(float(r["timestamp"]) for r in followed) < stamps[len(stamps) // 2]
