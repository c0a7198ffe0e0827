"""docker-compose.kafka.yml stays correct as the settings move: every DETECTOR_* variable
it sets is a setting the worker reads, the image builds from files that exist, and
nothing is published beyond the host's loopback."""

from __future__ import annotations

from pathlib import Path

import yaml

from agents.notify.settings import NotifySettings
from agents.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_the_compose_file_matches_the_worker() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.kafka.yml").read_text())
    known = {f"DETECTOR_{n.upper()}" for n in Settings.model_fields} | {
        f"DETECTOR_NOTIFY_{n.upper()}" for n in NotifySettings.model_fields
    }
    services = compose["services"]
    detector = services["detector"]
    assert sorted(set(detector["environment"]) - known) == []
    assert (ROOT / detector["build"]["context"] / detector["build"]["dockerfile"]).is_file()
    broker = detector["environment"]["DETECTOR_BROKER"]
    assert broker.split(":")[0] in {s.get("hostname", name) for name, s in services.items()}
    assert str(detector["environment"]["DETECTOR_WEB_PORT"]) == "6066"
    for service in services.values():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), port
