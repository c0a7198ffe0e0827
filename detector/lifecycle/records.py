"""An event's record in the in-flight table: its value, the save that wrote it, and its
value before that save.

An operation's events and its own record (which counts its saves and holds the offsets
applied) are separate records of one changelog partition, so a worker killed while
storing a batch can leave some of the batch's event records on the broker without the
operation's record. Such a record is ahead: its save number is past the operation's,
and its value before is the one that goes with the operation's record, over which the
batch is applied again. A finished event is first written as a record without a value
(so it can be undone like the others) and deleted once the operation's record is sent.
"""

from __future__ import annotations

from typing import Any

Value = list[Any]  # ``Event.to_list()``


def record(value: Value | None, save: int, before: Value | None) -> list[Any]:
    return [value, save, before]


def is_record(raw: list[Any]) -> bool:
    """A record, or a bare value (six fields: written before records had their save)."""
    return len(raw) == 3


def ahead(raw: list[Any], saves: int) -> bool:
    """Written by a save the operation's record does not have."""
    return is_record(raw) and int(raw[1]) > saves


def value(raw: list[Any], saves: int) -> Value | None:
    """The event's value as of the operation's ``saves``-th save (None: none)."""
    if not is_record(raw):
        return raw
    current: Value | None = raw[2] if int(raw[1]) > saves else raw[0]
    return current
