"""Per-operation detection state (baseline, status, last judged window): the
``operation-models`` table, keyed by operation like the counts it is learned from."""

from __future__ import annotations

from typing import Any

from tables import codec

NAME = "operation-models"


def declare(app: Any, partitions: int) -> Any:
    return codec.keyed_table(
        app,
        NAME,
        partitions,
        "Per-operation baselines and statuses (detector.state.OperationState).",
    )
