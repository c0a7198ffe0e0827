"""What the dashboard shows per operation: the ``operation-summaries`` global table.

Global, so every worker holds every operation's summary and any worker can serve the
whole dashboard, whichever partitions it owns. Only the operation's owner writes it."""

from __future__ import annotations

from typing import Any

from tables import codec

NAME = "operation-summaries"


def declare(app: Any, partitions: int) -> Any:
    return codec.keyed_table(
        app,
        NAME,
        partitions,
        "Per-operation dashboard rows (detector.summary.OperationSummary).",
        is_global=True,
    )
