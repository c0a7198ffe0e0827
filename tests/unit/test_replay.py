"""Offline replay: the same engine over a file, invalid lines reported with their
number, and the live worker's backlog semantics (judge a window once event time left it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

from detector.engine import Engine
from detector.events import OperationCall
from detector.opconfig import DetectionConfig
from detector.replay import ReplayStats, replay
from detector.simulate import PROFILES, Incident, generate
from detector.status import Status
from detector.windows import WindowCounts
from tests.unit.detection_helpers import DAY, MONDAY

ROOT = Path(__file__).resolve().parents[2]


def calls_for(days: int, incidents: list[Incident]) -> list[OperationCall]:
    records = generate(PROFILES[:3], incidents, MONDAY, MONDAY + days * DAY, seed=3)
    return [OperationCall.model_validate(r) for r in records]


def test_replay_equals_advancing_the_engine_by_hand() -> None:
    """Replay is Engine.advance fed window by window, nothing more."""
    calls = calls_for(2, [])
    expected = []
    engine = Engine(DetectionConfig())
    by_op: dict[str, dict[int, WindowCounts]] = {}
    for call in calls:
        assert call.timestamp is not None
        start = int(call.timestamp // 60) * 60
        counts = by_op.setdefault(call.operation, {}).setdefault(start, WindowCounts())
        counts.add(*call.tally())
    last = max(int(c.timestamp // 60) * 60 for c in calls if c.timestamp is not None)
    for operation, windows in by_op.items():
        _, changes = engine.advance(None, operation, "website", windows, last)
        expected.extend(changes)
    got = list(replay(calls, DetectionConfig()))
    assert sorted(c.id for c in got) == sorted(c.id for c in expected)


def test_replay_detects_an_incident_and_counts_what_it_read() -> None:
    start = MONDAY + 2 * DAY + 14 * 3600
    incident = Incident("Website.Subscribe", "all_failing", start, start + 1800)
    stats = ReplayStats()
    changes = list(replay(calls_for(3, [incident]), DetectionConfig(), stats=stats))
    assert any(
        c.operation == "Website.Subscribe"
        and c.status is Status.MANY_PROBLEMS
        and start <= c.at.timestamp() <= start + 600
        for c in changes
    )
    assert stats.events > 0
    assert stats.calls >= stats.events
    assert stats.operations == {p.operation for p in PROFILES[:3]}


def test_out_of_order_events_are_counted_as_late() -> None:
    base = {"operation": "A", "status": "ok"}
    calls = [OperationCall.model_validate({**base, "timestamp": MONDAY + t}) for t in (0, 130, 10)]
    stats = ReplayStats()
    list(replay(calls, DetectionConfig(), stats=stats))
    assert stats.late == 1


def detector_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agents.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


def test_cli_replay_writes_changes_and_reports_bad_lines(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    lines = [orjson.dumps(r) for r in generate(PROFILES[:2], [], MONDAY, MONDAY + DAY // 2)]
    lines.insert(3, b"{broken")
    lines.insert(7, b'{"operation": "A"}')
    events.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "changes.jsonl"
    done = detector_cli("replay", str(events), "--output", str(out))
    assert done.returncode == 0, done.stderr
    assert f"{events}:4: skipped: not_json" in done.stderr
    assert f"{events}:8: skipped: invalid" in done.stderr
    changes = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert {c["status"] for c in changes} >= {"learning", "ok"}
    assert all(c["detected_at"] is None for c in changes)


def test_cli_replay_report_lists_episodes_per_operation(tmp_path: Path) -> None:
    start = MONDAY + DAY + 12 * 3600
    outage = Incident("Website.Subscribe", "silence", start, start + 3600)
    events = tmp_path / "events.jsonl"
    records = generate(PROFILES[:3], [outage], MONDAY, MONDAY + 2 * DAY, seed=2)
    events.write_bytes(b"\n".join(orjson.dumps(r) for r in records) + b"\n")
    done = detector_cli("replay", str(events), "--report")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("operation")
    row = next(line for line in lines if line.startswith("Website.Subscribe "))
    assert row.split()[1:3] == ["2.0", "1"]  # Two days, one episode.
    assert any("Website.Subscribe: no_calls after" in line for line in lines)
    assert not any(line.startswith("{") for line in lines)  # The report, not the changes.


def test_cli_replay_of_a_missing_file_fails_clearly(tmp_path: Path) -> None:
    done = detector_cli("replay", str(tmp_path / "nope.jsonl"))
    assert done.returncode == 2
    assert "cannot read" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_replay_with_a_broken_config_names_the_field(tmp_path: Path) -> None:
    config = tmp_path / "rules.yaml"
    config.write_text("rules:\n  - operation: A\n    sensitivity: extreme\n")
    events = tmp_path / "events.jsonl"
    events.write_text("")
    done = detector_cli("replay", str(events), "--config", str(config))
    assert done.returncode == 2
    assert "rules[0].sensitivity" in done.stderr


def test_cli_replay_of_the_hostile_list_refuses_reports_and_stays_bounded(
    tmp_path: Path,
) -> None:
    """Ids in operation names (as the worker, past its caps: too_many_operations), huge
    counts, control and bidi characters, a call stamped 1970: each line is reported as
    invalid or late, the first of each reason one by one, all counted by reason; the
    cost is bounded by the operations the caps admit."""
    start = MONDAY + DAY
    lines = [
        {"operation": f"Order.{i}", "integration": "shop", "status": "ok", "timestamp": start + i}
        for i in range(2000)
    ]
    hostile = [
        {"operation": "Web\x00Form", "status": "ok"},
        {"operation": "Web\x1b[31mForm", "status": "ok"},
        {"operation": "Invoice\u202egnp.exe", "status": "ok"},
        {"operation": "Web.Form", "count": 10**18},
    ]
    for second in range(2000, 3800, 10):
        lines.append({"operation": "Web.Form", "status": "ok", "timestamp": start + second})
        if second == 3000:
            lines += [{**h, "timestamp": start + second} for h in hostile]
            lines.append({"operation": "Web.Form", "status": "ok", "timestamp": 1})
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(orjson.dumps(line) for line in lines) + b"\n")
    out = tmp_path / "changes.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "agents.cli", "replay", str(events), "--output", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        env={**os.environ, "DETECTOR_MAX_OPERATIONS_PER_INTEGRATION": "100"},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = done.stderr.splitlines()
    assert len([line for line in report if "skipped: too_many_operations" in line]) == 20
    assert f"{events}:101: skipped: too_many_operations" in done.stderr  # Order.100.
    assert len([line for line in report if "skipped: invalid_name" in line]) == 3
    assert "skipped: count_too_large" in done.stderr
    assert report[-1].endswith(
        "1904 invalid lines skipped; 1 events out of order skipped; "
        "too_many_operations: 1,900; invalid_name: 3; count_too_large: 1"
    )
    assert "101 operations" in report[-1]
    changes = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert {c["operation"] for c in changes} == {f"Order.{i}" for i in range(100)} | {"Web.Form"}
