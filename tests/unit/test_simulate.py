"""The simulator: deterministic per seed, continuous across ranges, and its incidents
change the traffic the way their labels say."""

from __future__ import annotations

from detector.events import OperationCall
from detector.simulate import PROFILES, Incident, Profile, generate
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
