"""Per-operation detection state (baseline, status, last judged window): the
``operation-models`` table, keyed by operation like the counts it is learned from."""

from __future__ import annotations

from typing import Any

import faust

from tables import codec

NAME = "operation-models"


def declare(app: Any, partitions: int) -> Any:
    return app.Table(
        NAME,
        default=None,
        partitions=partitions,
        schema=faust.Schema(key_type=str, key_serializer="raw", value_serializer=codec.NAME),
        help="Per-operation baselines and statuses (detector.engine.OperationState).",
    )
