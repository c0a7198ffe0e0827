"""The Grafana dashboard: well-formed for provisioning, and every query valid PromQL
(checked by promtool as recording rules). That each metric exists on a live worker is
checked in tests/integration/test_grafana_dashboard.py."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.unit.dashboard_queries import DASHBOARD, metric_names, queries


def test_the_dashboard_is_provisionable() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "integration-health"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        assert [t["refId"] for t in panel["targets"]] == [
            chr(65 + i) for i in range(len(panel["targets"]))
        ]


def test_metric_names_are_found_in_queries() -> None:
    query = (
        'histogram_quantile(0.95, sum by (le, channel) (rate(a_bucket{x="b c"}[5m])))'
        " / on (channel) group_left b:rec + time() - c_total offset 5m or vector(1e3)"
    )
    assert metric_names(query) == {"a_bucket", "b:rec", "c_total"}


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool missing")
def test_every_query_is_valid_promql(tmp_path: Path) -> None:
    rules = [{"record": f"dashboard:query{i}", "expr": q} for i, q in enumerate(queries())]
    path = tmp_path / "dashboard.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    done = subprocess.run(
        ["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(rules)} rules found" in done.stdout
