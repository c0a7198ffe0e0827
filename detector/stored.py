"""Checks for values restored from a changelog, at the decode boundary.

A changelog record can be from an older build, hand-written, or corrupt. Decoding one
that is wrong in type or range (a negative or astronomically large count, NaN, a
string where a number belongs) must fail here, with a ``ValueError`` naming the field,
so the shell can quarantine that one record instead of crashing on it later, after
every restart. The checks are cheap (whole lists at C speed): they run on every restore.
"""

from __future__ import annotations

import math
from typing import Any

# Stored counts stay exact and within int64 (numpy, orjson, Prometheus).
MAX_STORED = 2**62
_REAL = (int, float)


def count(value: Any, what: str) -> int:
    """A non-negative int within ``MAX_STORED`` (a count, a boundary in Unix seconds)."""
    if type(value) is not int or not 0 <= value <= MAX_STORED:
        raise ValueError(f"{what}: {value!r:.40} is not a count (an int from 0 to 2^62)")
    return value


def counts(values: Any, what: str, length: int | None = None) -> list[int]:
    if (
        type(values) is not list
        or (length is not None and len(values) != length)
        or not all(type(v) is int for v in values)
        or (values and not (min(values) >= 0 and max(values) <= MAX_STORED))
    ):
        raise ValueError(f"{what}: expected a list of counts (ints from 0 to 2^62)")
    return values


def number(value: Any, what: str, minimum: float = 0.0) -> float:
    """A finite real number at least ``minimum`` (an int is a number too)."""
    if type(value) not in _REAL or not math.isfinite(value) or value < minimum:
        raise ValueError(f"{what}: {value!r:.40} is not a finite number >= {minimum:g}")
    return float(value)


def numbers(values: Any, what: str, length: int | None = None, minimum: float = 0.0) -> list[float]:
    if (
        type(values) is not list
        or (length is not None and len(values) != length)
        or not all(type(v) in _REAL for v in values)
        or not math.isfinite(sum(values))
        or (values and min(values) < minimum)
    ):
        raise ValueError(f"{what}: expected a list of finite numbers >= {minimum:g}")
    return values


def text(value: Any, what: str, limit: int = 10_000) -> str:
    if type(value) is not str or len(value) > limit:
        raise ValueError(f"{what}: expected text of at most {limit} characters")
    return value


def mapping(value: Any, what: str) -> dict[str, Any]:
    if type(value) is not dict:
        raise ValueError(f"{what}: expected an object")
    return value


def code_counts(value: Any, what: str, limit: int) -> dict[str, int]:
    """{error code: failed calls}, at most ``limit`` codes."""
    if type(value) is not dict or len(value) > limit:
        raise ValueError(f"{what}: expected at most {limit} error codes with their counts")
    for code, n in value.items():
        text(code, what, 1000)
        count(n, what)
    return value
