"""What the dashboard shows per operation: the ``operation-summaries`` global table.

Global, so every worker holds every operation's summary and any worker can serve the
whole dashboard, whichever partitions it owns. Only the operation's owner writes it."""

from __future__ import annotations

from typing import Any

import faust

from tables import codec

NAME = "operation-summaries"


def declare(app: Any, partitions: int) -> Any:
    return app.GlobalTable(
        NAME,
        default=None,
        partitions=partitions,
        schema=faust.Schema(key_type=str, key_serializer="raw", value_serializer=codec.NAME),
        help="Per-operation dashboard rows (detector.summary.OperationSummary).",
    )
