"""Kubernetes JSON schemas for kubeconform without the network: taken from the
``kubernetes-validate`` package (PyPI), whose schemas point into one shared definitions
file by absolute ``$ref``s that kubeconform cannot follow; each schema a manifest needs
is written out standalone (references inlined), as kubeconform's own schema sets are."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kubernetes_validate

KUBERNETES_VERSION = "1.33.0"
SOURCE = (
    Path(kubernetes_validate.__file__).parent
    / "kubernetes-json-schema"
    / f"v{KUBERNETES_VERSION}-local-strict"
)
# kubeconform's name for a kind's schema file: deployment-apps-v1, service-v1.
LOCATION = "{{ .ResourceKind }}{{ .KindSuffix }}.json"


def schema_name(api_version: str, kind: str) -> str:
    group, _, version = api_version.rpartition("/")
    return "-".join([kind.lower(), *([group.split(".")[0]] if group else []), version])


def write_standalone(names: set[str], target: Path) -> None:
    defs = json.loads((SOURCE / "_definitions.json").read_text())["$defs"]

    def inline(node: Any, seen: frozenset[str]) -> Any:
        if isinstance(node, list):
            return [inline(v, seen) for v in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if not isinstance(ref, str):
            return {k: inline(v, seen) for k, v in node.items()}
        name = ref.split("#/$defs/", 1)[1]
        rest = {k: v for k, v in node.items() if k != "$ref"}
        if name in seen:  # Recursive types (only in CRD schemas): left open.
            return rest
        return {**inline(defs[name], seen | {name}), **rest}

    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        schema = json.loads((SOURCE / f"{name}.json").read_text())
        (target / f"{name}.json").write_text(json.dumps(inline(schema, frozenset())))
