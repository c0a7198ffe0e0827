"""`detector subscriptions test`: who would be told, through which route and why; the
pure routing explained, and the command's exit codes and messages."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agents.cli import main
from detector.notify.routes import describe, muted_until, routes
from detector.notify.subscriptions import parse_subscriptions
from detector.status import Status

SUBS = parse_subscriptions(
    {
        "timezone": "Europe/Berlin",
        "subscribers": [
            {
                "email": "pay@example.com",
                "integrations": ["payments*"],
                "statuses": ["many_problems", "no_calls"],
                "recovery": False,
                "mute": ["weekdays 22:00-07:00"],
            },
            {"email": "web@example.com", "operations": ["Website.*"]},
            {"webhook": "https://chat.example.com/h", "operations": ["*"], "group_wait": "5s"},
        ],
    },
    "subs.yaml",
)
# Thursday 2026-11-26 23:30 in Berlin (22:30 UTC): inside the weekday night mute.
THURSDAY_NIGHT = datetime(2026, 11, 26, 22, 30, tzinfo=UTC).timestamp()
THURSDAY_NOON = datetime(2026, 11, 26, 11, 0, tzinfo=UTC).timestamp()


def test_matching_routes_with_the_glob_that_matched() -> None:
    found = routes(SUBS, "Pay.Charge", "payments", Status.MANY_PROBLEMS, THURSDAY_NOON)
    assert [(r.index, r.matched_by, r.told) for r in found] == [
        (0, "integrations 'payments*'", True),
        (2, "operations '*'", True),
    ]
    assert found[1].group_wait == 5
    assert found[0].group_wait == 30


@pytest.mark.parametrize(
    ("status", "told"),
    [
        (Status.MANY_PROBLEMS, True),
        (Status.SOME_PROBLEMS, False),  # Not one of its statuses.
        (Status.OK, False),  # recovery: false.
        (Status.LEARNING, False),
    ],
)
def test_statuses_and_recovery_decide(status: Status, told: bool) -> None:
    (route, _) = routes(SUBS, "Pay.Charge", "payments", status, THURSDAY_NOON)
    assert route.told is told
    assert status.value in route.why


def test_recovery_is_told_by_default() -> None:
    (web, _) = routes(SUBS, "Website.Subscribe", None, Status.OK, THURSDAY_NOON)
    assert web.told
    assert "recovery" in web.why


def test_a_mute_window_holds_it_until_the_window_ends() -> None:
    (pay, chat) = routes(SUBS, "Pay.Charge", "payments", Status.NO_CALLS, THURSDAY_NIGHT)
    assert pay.muted
    assert pay.muted_until is not None
    assert pay.muted_until.isoformat() == "2026-11-27T07:00:00+01:00"
    assert not chat.muted
    text = "\n".join(describe([pay, chat], "Pay.Charge", "payments", Status.NO_CALLS))
    assert "held until Fri 2026-11-27 07:00 CET" in text
    assert "2 of 2 matching subscribers told" in text


@given(st.integers(0, 14 * 86400))
def test_muted_until_is_the_first_unmuted_minute(offset: int) -> None:
    now = THURSDAY_NOON + offset
    subscriber = SUBS.subscribers[0]
    until = muted_until(SUBS, subscriber, now)
    if SUBS.mute_window(subscriber, now) is None:
        assert until is None
        return
    assert until is not None
    end = until.timestamp()
    assert SUBS.mute_window(subscriber, end) is None
    assert SUBS.mute_window(subscriber, end - 60) is not None
    assert 0 < end - now <= 9 * 3600 + 60


def test_nobody_matches() -> None:
    only_web = parse_subscriptions({"subscribers": [SUBS.subscribers[1].model_dump()]}, "s")
    found = routes(only_web, "Crm.Sync", "crm", None, THURSDAY_NOON)
    assert found == []
    assert "nobody" in describe(found, "Crm.Sync", "crm", None)[-1]


def test_the_command_prints_the_routes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "subs.yaml"
    path.write_text(
        "subscribers:\n  - email: web@example.com\n    operations: ['Website.*']\n"
        "    statuses: [no_calls]\n"
    )
    args = ["subscriptions", "test", "Website.Subscribe", "--file", str(path)]
    assert main([*args, "--status", "no_calls"]) == 0
    out = capsys.readouterr().out
    assert "-> mailto:web@example.com" in out
    assert "matched by operations 'Website.*'" in out
    assert main([*args, "--status", "many_problems"]) == 0
    assert (
        "not told: many_problems is not one of its statuses (no_calls)" in capsys.readouterr().out
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("subscribers:\n  - email: nobody\n    operations: ['*']\n", "subscribers[0].email"),
        ("subscribers:\n  - email: a@b.c\n", "give operations or integrations"),
        ("subscribers: [\n", "not valid YAML"),
        (None, "cannot read the subscriptions file"),
    ],
)
def test_an_invalid_file_exits_2_naming_the_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    path = tmp_path / "subs.yaml"
    if content is not None:
        path.write_text(content)
    assert main(["subscriptions", "test", "X", "--file", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert str(path) in err


def test_without_a_file_it_says_how_to_give_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DETECTOR_NOTIFY_SUBSCRIPTIONS", raising=False)
    monkeypatch.chdir(Path(__file__).parent)  # No .env here.
    assert main(["subscriptions", "test", "X"]) == 2
    assert "DETECTOR_NOTIFY_SUBSCRIPTIONS" in capsys.readouterr().err


def test_expect_checks_who_is_told(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "subs.yaml"
    path.write_text(
        "subscribers:\n  - email: web@example.com\n    operations: ['Website.*']\n"
        "  - webhook: https://chat.example.com/h\n    operations: ['*']\n"
        "    statuses: [no_calls]\n"
    )
    args = ["subscriptions", "test", "Website.Subscribe", "--file", str(path)]
    assert main([*args, "--status", "many_problems", "--expect", "web@example.com"]) == 0
    both = ["--expect", "web@example.com", "--expect", "https://chat.example.com/h"]
    assert main([*args, "--status", "many_problems", *both]) == 1
    err = capsys.readouterr().err
    assert "expected but not told: https://chat.example.com/h" in err
    assert main([*args, "--status", "no_calls", *both]) == 0
    assert main([*args, "--status", "no_calls", "--expect", "mailto:web@example.com"]) == 1
    assert "told but not expected: https://chat.example.com/h" in capsys.readouterr().err
