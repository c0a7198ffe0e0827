"""deploy/alertmanager/alertmanager.example.yml: valid for amtool, routing each kind of
the detector's alerts where its comments say, about alert names that exist."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from detector.notify.alertmanager import ALERTNAME

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy/alertmanager/alertmanager.example.yml"

pytestmark = pytest.mark.skipif(
    shutil.which("amtool") is None, reason="amtool missing (deploy/test.sh installs it)"
)


def amtool(*args: str) -> str:
    done = subprocess.run(["amtool", *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


def test_the_config_is_valid() -> None:
    assert "SUCCESS" in amtool("check-config", str(CONFIG))


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        ([f"alertname={ALERTNAME}", "severity=critical", "operation=A"], "oncall-pager"),
        ([f"alertname={ALERTNAME}", "severity=warning", "operation=A"], "integration-owners"),
        (["alertname=DetectorWorkerDown", "severity=critical"], "platform"),
        (["alertname=DetectorJudgingStalled", "severity=critical"], "platform"),
    ],
)
def test_each_kind_of_alert_goes_to_its_receiver(labels: list[str], receiver: str) -> None:
    assert amtool("config", "routes", "test", f"--config.file={CONFIG}", *labels) == receiver


def test_the_alert_names_it_matches_exist() -> None:
    rules = ROOT / "deploy/prometheus/rules"
    names = {ALERTNAME} | {
        r["alert"]
        for f in rules.glob("*.rules.yml")
        for g in yaml.safe_load(f.read_text())["groups"]
        for r in g["rules"]
        if "alert" in r
    }
    matched = re.findall(r'alertname="([A-Za-z]+)"', CONFIG.read_text())
    assert matched
    assert sorted(set(matched) - names) == []
