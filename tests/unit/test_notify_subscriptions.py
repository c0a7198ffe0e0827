"""The subscriptions file: matching by glob, and errors naming the file, entry and field."""

from __future__ import annotations

from typing import Any

import pytest

from detector.errors import ConfigError
from detector.notify.subscriptions import parse_subscriptions
from detector.status import Status
from tests.unit.notify_helpers import subscriptions


@pytest.mark.parametrize(
    ("subscriber", "operation", "integration", "wanted"),
    [
        ({"operations": ["Payments.*"]}, "Payments.Charge", None, True),
        ({"operations": ["Payments.*"]}, "Website.Login", None, False),
        ({"operations": [], "integrations": ["pay*"]}, "X.Y", "payments", True),
        ({"operations": [], "integrations": ["pay*"]}, "X.Y", None, False),
        ({"operations": ["A.*"], "integrations": ["web"]}, "B.C", "web", True),
    ],
)
def test_globs_select_operations(
    subscriber: dict[str, Any], operation: str, integration: str | None, wanted: bool
) -> None:
    subs = subscriptions(**subscriber)
    assert bool(subs.for_change(operation, integration)) is wanted


def test_defaults_and_durations() -> None:
    subs = parse_subscriptions(
        {
            "group_wait": "1m",
            "repeat_interval": "2h",
            "subscribers": [{"webhook": "https://chat.example/hook", "operations": ["*"]}],
        },
        "subs.yaml",
    )
    assert (subs.group_wait, subs.repeat_interval) == (60, 7200)
    assert subs.subscribers[0].address == "https://chat.example/hook"
    assert set(subs.subscribers[0].statuses) == {
        Status.SOME_PROBLEMS,
        Status.MANY_PROBLEMS,
        Status.NO_CALLS,
    }


@pytest.mark.parametrize(
    ("subscriber", "message"),
    [
        ({"email": "ops@example.com", "statuses": ["broken"]}, "subscribers[1].statuses.0"),
        ({"email": "not-an-address", "operations": ["*"]}, "subscribers[1].email"),
        ({"email": "a@b.c", "operations": ["*"], "mute": ["nightly 22-07"]}, "subscribers[1].mute"),
        ({"email": "a@b.c"}, "give operations or integrations"),
        ({"operations": ["*"]}, "exactly one of email, webhook or alertmanager"),
        ({"email": "a@b.c", "operations": ["*"], "colour": "red"}, "subscribers[1].colour"),
    ],
)
def test_mistakes_name_the_file_entry_and_field(subscriber: dict[str, Any], message: str) -> None:
    good = {"email": "fine@example.com", "operations": ["*"]}
    with pytest.raises(ConfigError) as raised:
        parse_subscriptions({"subscribers": [good, subscriber]}, "/etc/subs.yaml")
    assert str(raised.value).startswith("/etc/subs.yaml: subscribers[1]")
    assert message in str(raised.value)


def test_unknown_time_zone_is_named() -> None:
    with pytest.raises(ConfigError, match=r"subs.yaml: timezone: .*Mars/Olympus"):
        parse_subscriptions({"timezone": "Mars/Olympus"}, "subs.yaml")
