"""The Prometheus files in deploy/prometheus/: valid for promtool, and every alert and
recording rule exercised by a ``promtool test rules`` unit test there."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

PROM = Path(__file__).resolve().parents[2] / "deploy/prometheus"
RULES = sorted((PROM / "rules").glob("*.rules.yml"))
TESTS = sorted((PROM / "tests").glob("*.test.yml"))

pytestmark = pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool missing (deploy/test.sh installs it)"
)


def promtool(*args: str) -> str:
    done = subprocess.run(["promtool", *args], cwd=PROM, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_rule_files_and_scrape_config_are_valid() -> None:
    assert RULES
    promtool("check", "rules", *map(str, RULES))
    promtool("check", "config", "prometheus.yml")


def test_the_kubernetes_scrape_config_keeps_the_k8s_workers() -> None:
    config = yaml.safe_load((PROM / "prometheus.kubernetes.yml").read_text())
    static = yaml.safe_load((PROM / "prometheus.yml").read_text())
    assert config["rule_files"] == static["rule_files"]
    (job,) = config["scrape_configs"]
    assert job["job_name"] == static["scrape_configs"][0]["job_name"]
    keep = {
        r["source_labels"][0]: r["regex"]
        for r in job["relabel_configs"]
        if r.get("action") == "keep"
    }
    deployment = yaml.safe_load((PROM.parent / "k8s/deployment.yaml").read_text())
    pod = deployment["spec"]["template"]
    labels = {
        f"__meta_kubernetes_pod_label_{k.replace('.', '_').replace('/', '_').replace('-', '_')}": v
        for k, v in pod["metadata"]["labels"].items()
    }
    ports = [p["name"] for c in pod["spec"]["containers"] for p in c["ports"]]
    assert keep.pop("__meta_kubernetes_pod_container_port_name") in ports
    assert keep.items() <= labels.items()
    namespaces = job["kubernetes_sd_configs"][0]["namespaces"]["names"]
    assert deployment["metadata"]["namespace"] in namespaces


def test_rule_unit_tests_pass() -> None:
    assert TESTS
    out = promtool("test", "rules", *map(str, TESTS))
    assert out.count("SUCCESS") == len(TESTS)


def test_every_rule_has_a_unit_test() -> None:
    rules = [r for f in RULES for g in yaml.safe_load(f.read_text())["groups"] for r in g["rules"]]
    tested = "\n".join(f.read_text() for f in TESTS)
    for rule in rules:
        name = rule.get("alert") or rule["record"]
        key = f"alertname: {name}" if "alert" in rule else f"expr: {name}"
        assert key in tested, f"{name} has no test in deploy/prometheus/tests/"
