"""A bad setting fails at start with a message naming the environment variable."""

from __future__ import annotations

import pytest

from agents.settings import load_settings
from detector.errors import ConfigError


def test_defaults_derive_the_invalid_topic(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DETECTOR_CALLS_TOPIC", "calls")
    assert load_settings().invalid_topic == "calls.invalid"


@pytest.mark.parametrize(
    ("name", "value", "mentions"),
    [
        ("DETECTOR_WEB_PORT", "not-a-port", "DETECTOR_WEB_PORT"),
        ("DETECTOR_WINDOW_SECONDS", "1", "DETECTOR_WINDOW_SECONDS"),
        ("DETECTOR_APP_ID", "has spaces", "DETECTOR_APP_ID"),
        ("DETECTOR_HEARTBEAT_INTERVAL", "9", "DETECTOR_HEARTBEAT_INTERVAL"),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, mentions: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert mentions in str(info.value)


def test_env_example_lists_every_setting() -> None:
    from pathlib import Path

    from agents.notify.settings import NotifySettings
    from agents.settings import ENV_PREFIX, Settings

    text = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    listed = {line.split("=", 1)[0] for line in text.splitlines() if line.startswith(ENV_PREFIX)}
    expected = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}
    expected |= {f"{ENV_PREFIX}NOTIFY_{name.upper()}" for name in NotifySettings.model_fields}
    assert listed == expected
