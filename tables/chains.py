"""The ``fold-chains`` table: per partition of the partials topic, what the fold agent has
applied of each source partition's ingest batches (``detector.partials.Chain``).

Keyed by the partials partition it describes and written to that partition, so it moves
with the partition's operations: a worker that takes a partition over recovers the
chain with their window counts and goes on where the last owner stopped.
"""

from __future__ import annotations

from typing import Any

from detector import stored
from detector.partials import Chain
from tables import codec

NAME = "fold-chains"


def declare(app: Any, partitions: int) -> Any:
    return codec.keyed_table(
        app,
        NAME,
        partitions,
        "Per partials partition, the last ingest batch applied of each source partition.",
    )


def key(partition: int) -> str:
    return f"partials-{partition}"


def encode(chain: Chain) -> list[list[int]]:
    return [[source, *state] for source, state in sorted(chain.items())]


def decode(raw: Any) -> Chain:
    """A stored value; ``ValueError`` for anything else."""
    if not isinstance(raw, list):
        raise ValueError("fold chain: expected a list of [source, last, done, parts]")
    chain: Chain = {}
    for row in raw:
        if not isinstance(row, list) or len(row) != 4:
            raise ValueError("fold chain: expected [source, last, done, parts]")
        source, last, done, parts = (stored.count(v, "fold chain field") for v in row)
        chain[source] = (last, done, parts)
    return chain
