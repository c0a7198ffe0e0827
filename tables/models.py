"""Per-operation detection state (baseline, status, last judged window): the
``operation-models`` table, keyed by operation like the counts it is learned from."""

from __future__ import annotations

from typing import Any

from detector.state import OperationState
from tables import codec, packed

NAME = "operation-models"
LAYOUT = packed.OPERATION_MODELS


def declare(app: Any, partitions: int) -> Any:
    return codec.keyed_table(
        app,
        NAME,
        partitions,
        "Per-operation baselines and statuses (detector.state.OperationState).",
        packed=True,
    )


def encode(state: OperationState) -> bytes:
    return packed.pack(LAYOUT, state.to_dict())


def decode(raw: bytes) -> OperationState:
    return OperationState.from_dict(packed.unpack(LAYOUT, raw))


def judged(raw: bytes) -> tuple[int, int]:
    """(last judged boundary, hours waiting to be settled), read from the header."""
    (boundary, pending), _ = packed.head(LAYOUT, raw)
    return boundary, pending
