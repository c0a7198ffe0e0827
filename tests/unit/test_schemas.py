"""The published JSON Schemas describe the same fields as the models that enforce them."""

from __future__ import annotations

import json
from pathlib import Path

from detector.events import STATUS_ALIASES, OperationCall
from detector.status import Status, StatusChange

SCHEMAS = Path(__file__).resolve().parents[2] / "deploy" / "schemas"


def load(name: str) -> dict[str, object]:
    schema = json.loads((SCHEMAS / name).read_text())
    assert isinstance(schema, dict)
    return schema


def test_operation_call_schema_matches_the_model() -> None:
    schema = load("operation-call.schema.json")
    properties = schema["properties"]
    assert isinstance(properties, dict)
    assert set(properties) == set(OperationCall.model_fields)
    assert schema["required"] == ["operation"]
    assert set(properties["status"]["enum"]) == set(STATUS_ALIASES)


def test_status_change_schema_matches_the_model() -> None:
    schema = load("status-change.schema.json")
    properties = schema["properties"]
    assert isinstance(properties, dict)
    assert set(properties) == set(StatusChange.model_fields)
    assert set(schema["required"]) == {
        name for name, field in StatusChange.model_fields.items() if field.is_required()
    }
    status_enum = properties["status"]["enum"]
    assert set(status_enum) == {s.value for s in Status}


def test_openapi_describes_the_models() -> None:
    import yaml

    from detector.oplog import LogEntry
    from detector.summary import OperationSummary

    spec = yaml.safe_load((SCHEMAS.parent / "openapi.yaml").read_text())
    schemas = spec["components"]["schemas"]
    assert set(schemas["LogEntry"]["properties"]) == set(LogEntry.model_fields)
    assert set(schemas["OperationRow"]["properties"]) == {*OperationSummary.model_fields, "log_url"}
