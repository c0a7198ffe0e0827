"""deploy/k8s/: every resource valid for kubeconform (strict: unknown fields are errors)
against Kubernetes schemas that need no network, a broken copy refused, and the
configuration they carry is configuration the worker understands."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from agents.notify.settings import NotifySettings
from agents.settings import Settings
from detector.access import parse_users
from detector.notify.subscriptions import parse_subscriptions
from detector.opconfig import parse_detection_config
from tests.unit.k8s_schemas import LOCATION, schema_name, write_standalone

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy/k8s"
FILES = [K8S / f for f in yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]]


def documents() -> list[dict[str, Any]]:
    return [d for f in FILES for d in yaml.safe_load_all(f.read_text()) if d]


def by_kind(kind: str) -> list[dict[str, Any]]:
    return [d for d in documents() if d["kind"] == kind]


def kubeconform() -> str:
    found = shutil.which("kubeconform") or shutil.which("kubeconform", path=str(ROOT / ".venv/bin"))
    if found is None:
        pytest.skip("kubeconform missing (deploy/test.sh installs it with go install)")
    return found


def validate(paths: list[Path], schemas: Path) -> subprocess.CompletedProcess[str]:
    names = {
        schema_name(d["apiVersion"], d["kind"])
        for p in paths
        for d in yaml.safe_load_all(p.read_text())
        if d
    }
    write_standalone(names, schemas)
    return subprocess.run(
        [kubeconform(), "-strict", "-summary", "-schema-location", f"{schemas}/{LOCATION}"]
        + [str(p) for p in paths],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_every_resource_is_valid(tmp_path: Path) -> None:
    done = validate(FILES, tmp_path / "schemas")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Valid: {len(documents())}, Invalid: 0, Errors: 0, Skipped: 0" in done.stdout


def test_a_broken_deployment_is_refused(tmp_path: Path) -> None:
    text = (K8S / "deployment.yaml").read_text()
    broken = tmp_path / "deployment.yaml"
    broken.write_text(
        text.replace("livenessProbe:", "livenesProbe:").replace("replicas: 3", "replicas: three")
    )
    done = validate([broken], tmp_path / "schemas")
    assert done.returncode != 0
    assert "additional properties 'livenesProbe' not allowed" in done.stdout
    assert "/spec/replicas" in done.stdout


def test_several_workers_with_probes_resources_and_a_budget() -> None:
    (deployment,) = by_kind("Deployment")
    assert deployment["spec"]["replicas"] >= 2
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["port"] == "web"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["resources"]["requests"].keys() == {"cpu", "memory"}
    assert "memory" in container["resources"]["limits"]
    (pdb,) = by_kind("PodDisruptionBudget")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    refs = {next(iter(r.values()))["name"] for r in container["envFrom"]}
    assert refs == {"detector-settings", "detector-secrets"}


def test_the_configuration_is_what_the_worker_reads() -> None:
    known = {f"DETECTOR_{n.upper()}" for n in Settings.model_fields} | {
        f"DETECTOR_NOTIFY_{n.upper()}" for n in NotifySettings.model_fields
    }
    settings, files = by_kind("ConfigMap")
    secret, users = by_kind("Secret")
    assert sorted(set(settings["data"]) - known) == []
    assert sorted(set(secret["stringData"]) - known) == []
    (deployment,) = by_kind("Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["ports"][0]["containerPort"] == int(settings["data"]["DETECTOR_WEB_PORT"])
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    for key in ("DETECTOR_DETECTION_CONFIG", "DETECTOR_NOTIFY_SUBSCRIPTIONS"):
        path = Path(settings["data"][key])
        assert str(path.parent) == mounts["files"]
        assert path.name in files["data"]
    assert settings["data"]["DETECTOR_DATA_DIR"] == mounts["data"]
    users_file = Path(settings["data"]["DETECTOR_USERS_FILE"])
    assert str(users_file.parent) == mounts["users"]
    parse_users(yaml.safe_load(users["stringData"][users_file.name]), "users")
    parse_subscriptions(yaml.safe_load(files["data"]["subscriptions.yaml"]), "subscriptions")
    parse_detection_config(yaml.safe_load(files["data"]["detection.yaml"]), "detection")
