"""The probes of deploy/k8s/deployment.yaml ask a running worker something it answers."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable

import pytest

from tests.integration.conftest import WorkerProcess, eventually
from tests.unit.test_k8s_manifests import by_kind

pytestmark = pytest.mark.integration
PROBES = ("startupProbe", "readinessProbe", "livenessProbe")


async def test_the_probes_get_an_answer_from_a_worker(
    start_worker: Callable[..., WorkerProcess],
) -> None:
    (deployment,) = by_kind("Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    worker = start_worker()
    for probe in PROBES:
        path = container[probe]["httpGet"]["path"]

        def answers(path: str = path) -> None:
            # Like Kubernetes, a failed probe is tried again (failureThreshold).
            try:
                with urllib.request.urlopen(worker.url + path, timeout=10) as response:
                    assert response.status == 200, path
            except urllib.error.HTTPError as exc:
                raise AssertionError(f"{path}: {exc.code}") from None

        await eventually(answers, within=container[probe]["failureThreshold"] * 2, every=1)
