"""Table values: packed bytes (``tables.packed``) in the per-operation tables, carried
as they are (Faust's ``raw``); JSON in the others.

Changelog records are read back with a codec that never raises: Faust's recovery waits
forever for a changelog record it could not decode (a key that is not JSON, bytes that
are not UTF-8), so a single such record would keep every restarted worker from serving.
Such records, and keys that decode to something other than a string, are kept out of
the table and reported to ``on_bad_record`` instead (the worker quarantines them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import faust
from faust.serializers import codecs
from faust.types import EventT

CHECKED = "checked-json"
log = logging.getLogger(__name__)

OnBadRecord = Callable[[str, str, str], None]
"""(table, key as text, what is wrong): a changelog record kept out of the table."""


@dataclass(frozen=True, slots=True)
class Undecodable:
    """A changelog key or value that is not JSON, in place of the decoded one."""

    raw: bytes
    error: str


class CheckedJsonCodec(codecs.Codec):
    """Faust's ``json`` codec on write (the same bytes, so compaction still matches the
    keys written before), and on read ``Undecodable`` instead of an exception."""

    def _dumps(self, obj: Any) -> bytes:
        return codecs.get_codec("json").dumps(obj)

    def _loads(self, s: bytes) -> Any:
        try:
            return codecs.get_codec("json").loads(s)
        except Exception as exc:  # Whatever the bytes are, they cost only their record.
            return Undecodable(bytes(s), f"{type(exc).__name__}: {str(exc)[:200]}")


codecs.register(CHECKED, CheckedJsonCodec())


def _log_bad_record(table: str, key: str, why: str) -> None:
    log.error("skipped a record of the %s changelog with key %s: %s", table, key, why)


class CheckedTable(faust.Table[str, Any]):
    """A table whose changelog records are checked as they are restored."""

    on_bad_record: OnBadRecord = staticmethod(_log_bad_record)

    def __init__(self, app: Any, *, packed: bool = False, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.key_serializer = CHECKED
        # Packed values are checked where they are unpacked (and quarantined there).
        self.value_serializer = "raw" if packed else CHECKED

    def apply_changelog_batch(self, batch: Iterable[EventT[Any]]) -> None:
        """Apply the batch, except records with a key that is not a string (skipped) or
        a value that is not JSON (the key is then absent, as for a tombstone)."""
        good: list[EventT[Any]] = []
        for event in batch:
            key, value = event.key, event.value
            if not isinstance(key, str):
                raw = key.raw if isinstance(key, Undecodable) else event.message.key
                why = key.error if isinstance(key, Undecodable) else f"a {type(key).__name__}"
                self.on_bad_record(self.name, repr(raw)[:200], f"the key is not a string: {why}")
            elif isinstance(value, Undecodable):
                super().apply_changelog_batch(good)
                good = []
                self.data.pop(key, None)
                why = f"the value is not JSON: {value.error}"
                self.on_bad_record(self.name, repr(key)[:200], why)
            else:
                good.append(event)
        super().apply_changelog_batch(good)


class CheckedGlobalTable(CheckedTable, faust.GlobalTable):
    pass


def keyed_table(
    app: Any,
    name: str,
    partitions: int,
    help: str,
    *,
    is_global: bool = False,
    packed: bool = False,
) -> Any:
    """A changelogged table keyed by a plain string (an operation or a recipient, like the
    topic that feeds it) holding JSON values or ``packed`` bytes, its changelog checked on
    restore."""
    # What app.Table and app.GlobalTable do, with the checked classes.
    options: dict[str, Any] = {"standby_buffer_size": 1, "is_global": True} if is_global else {}
    factory = CheckedGlobalTable if is_global else CheckedTable
    return app.tables.add(
        factory(
            app,
            name=name,
            default=None,
            beacon=app.tables.beacon,
            partitions=partitions,
            schema=faust.Schema(key_type=str, key_serializer="raw", value_serializer=CHECKED),
            help=help,
            packed=packed,
            **options,
        )
    )
