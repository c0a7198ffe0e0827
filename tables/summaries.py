"""What the dashboard shows per operation: the ``operation-summaries`` global table.

Global, so every worker holds every operation's summary and any worker can serve the
whole dashboard, whichever partitions it owns. Only the operation's owner writes it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from detector.summary import OperationSummary
from tables import codec, packed

NAME = "operation-summaries"
LAYOUT = packed.OPERATION_SUMMARIES


def declare(app: Any, partitions: int) -> Any:
    return codec.keyed_table(
        app,
        NAME,
        partitions,
        "Per-operation dashboard rows (detector.summary.OperationSummary).",
        is_global=True,
        packed=True,
    )


def encode(summary: OperationSummary) -> bytes:
    return packed.pack(LAYOUT, summary.model_dump(mode="json"))


def decode(raw: bytes) -> OperationSummary:
    return OperationSummary.model_validate(packed.unpack(LAYOUT, raw))


class Row(Mapping[str, Any]):
    """One stored summary as a mapping: its name, status and integration read from the
    header, the rest inflated only if asked for (a listing pass over 100,000 operations
    inflates only the page it returns). A record that cannot be read has no status."""

    __slots__ = ("_body", "_head", "_operation", "_raw")

    def __init__(self, operation: str, raw: bytes) -> None:
        self._operation = operation
        self._raw = raw
        self._head: dict[str, Any] | None = None
        self._body: dict[str, Any] | None = None

    def _fields(self) -> dict[str, Any]:
        if self._head is None:
            try:
                (code, *_), integration = packed.head(LAYOUT, self._raw)
                status: str | None = packed.STATUSES[code]
            except ValueError:
                status = integration = None
            self._head = {"operation": self._operation, "status": status}
            self._head["integration"] = integration
        return self._head

    def _all(self) -> dict[str, Any]:
        if self._body is None:
            body = packed.unpack(LAYOUT, self._raw)
            if type(body) is not dict:
                raise ValueError("operation summary: expected an object")
            self._body = body
        return self._body

    def __getitem__(self, key: str) -> Any:
        head = self._fields()
        return head[key] if key in head else self._all()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


class Rows(Mapping[str, Row]):
    """The summaries table as mappings (``Row``), what the dashboard lists."""

    def __init__(self, table: Any) -> None:
        self._data = table.data

    def __getitem__(self, operation: str) -> Row:
        raw = self._data[operation]
        if raw is None:
            raise KeyError(operation)
        return Row(operation, raw)

    def __iter__(self) -> Iterator[str]:
        return (op for op, raw in list(self._data.items()) if raw is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)
