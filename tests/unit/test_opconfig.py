"""The detection rules file: glob matching, durations, schedules, and errors that name
the file, the rule and the field."""

from __future__ import annotations

import pytest

from detector.errors import ConfigError
from detector.opconfig import DEFAULT_RULE, parse_detection_config, parse_duration

CONFIG = {
    "timezone": "Europe/Moscow",
    "rules": [
        {"operation": "Website.Unsubscribe", "sensitivity": "high"},
        {"integration": "crm", "expect_every": "15m", "schedule": "weekdays 09:00-18:00"},
        {"operation": "Test.*", "mute": True},
    ],
}


def test_first_matching_rule_applies() -> None:
    config = parse_detection_config(CONFIG, "rules.yaml")
    assert config.rule_for("Website.Unsubscribe", "website").sensitivity == "high"
    assert config.rule_for("Crm.Sync", "crm").expect_every == 900
    assert config.rule_for("Test.Anything", None).mute
    assert config.rule_for("Website.Subscribe", "website") is DEFAULT_RULE
    assert config.zone.key == "Europe/Moscow"


def test_schedule_contains() -> None:
    rule = parse_detection_config(CONFIG, "rules.yaml").rule_for("Crm.Sync", "crm")
    assert rule.schedule is not None
    assert rule.schedule.contains(0, 9 * 60)
    assert not rule.schedule.contains(0, 18 * 60)
    assert not rule.schedule.contains(5, 12 * 60)


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("15m", 900), ("4h", 14400), ("1d", 86400)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("data", "mentions"),
    [
        ({"rules": [{"operation": "A", "expect_every": "soon"}]}, "rules[0].expect_every"),
        ({"rules": [{}, {"sensitivity": "extreme"}]}, "rules[1].sensitivity"),
        ({"rules": [{"schedule": "mondays 9-5"}]}, "rules[0].schedule"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"rules": [{"operaton": "A"}]}, "rules[0].operaton"),
        ({"rule": []}, "rule"),
    ],
)
def test_errors_name_the_file_rule_and_field(data: dict[str, object], mentions: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_detection_config(data, "rules.yaml")
    assert "rules.yaml" in str(info.value)
    assert mentions in str(info.value)


def test_the_example_file_is_valid() -> None:
    from pathlib import Path

    from agents.files import read_yaml

    path = Path(__file__).resolve().parents[2] / "deploy" / "detection.example.yaml"
    config = parse_detection_config(read_yaml(path, "detection rules"), str(path))
    assert config.rule_for("Crm.Sync", "crm").expect_every == 900
    partner = config.rule_for("Partner.Sync", None)
    assert (partner.stuck_after, partner.retry_horizon) == (1800, 3600)
    assert config.rule_for("Other", None).retry_horizon == 900


def test_a_wrong_lifecycle_duration_names_the_rule_and_field() -> None:
    with pytest.raises(ConfigError, match=r"rules\[0\]\.stuck_after"):
        parse_detection_config({"rules": [{"stuck_after": "soon"}]}, "rules.yaml")
