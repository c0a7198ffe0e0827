"""The PromQL queries of the Grafana dashboard, and the metric names they read."""

from __future__ import annotations

import json
import re
from pathlib import Path

DASHBOARD = (
    Path(__file__).resolve().parents[2] / "deploy/grafana/dashboards/integration-health.json"
)
# Grafana's variables, as they would be filled in, for checking the queries outside Grafana.
VARIABLES = {"$__rate_interval": "5m", "$operation": ".*", "$integration": ".*"}
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "group_left", "group_right"}
_GROUPING = r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"


def queries() -> list[str]:
    """Every panel target and every variable's query, with the variables filled in."""
    dashboard = json.loads(DASHBOARD.read_text())
    found = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    for var in dashboard["templating"]["list"]:
        if var["type"] == "query":
            match = re.fullmatch(r"label_values\((.+),\s*\w+\)", var["query"]["query"])
            assert match, var["query"]
            found.append(match.group(1))
    return [_fill(q) for q in found]


def _fill(query: str) -> str:
    for name, value in VARIABLES.items():
        query = query.replace(name, value)
    assert "$" not in query, f"unknown variable in {query}"
    return query


def metric_names(query: str) -> set[str]:
    """The metrics a query selects: identifiers outside strings, label matchers, ranges
    and groupings that are neither functions nor keywords."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', query)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(_GROUPING, " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*", text):
        if text[match.end() :].lstrip().startswith("(") or match.group().lower() in _KEYWORDS:
            continue
        names.add(match.group())
    return names
