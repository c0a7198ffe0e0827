"""The probes of deploy/k8s/deployment.yaml ask a running worker something it answers."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable

import pytest

from tests.integration.conftest import WorkerProcess
from tests.unit.test_k8s_manifests import by_kind

pytestmark = pytest.mark.integration


def test_the_probes_get_an_answer_from_a_worker(start_worker: Callable[..., WorkerProcess]) -> None:
    (deployment,) = by_kind("Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    paths = {
        container[p]["httpGet"]["path"] for p in ("startupProbe", "readinessProbe", "livenessProbe")
    }
    worker = start_worker()
    for path in sorted(paths):
        with urllib.request.urlopen(worker.url + path, timeout=10) as response:
            assert response.status == 200, path
