"""What the worker hands its lifecycles from one ingest batch, and their counts back.

The ingest stage reads without the lifecycle state (it lives with the operation's
counts, in the fold agent), so it sends along, per operation and in record order, only
the records that can change that state: every status message of a followed event, every
failure, and the successes that may end a run of failures (the first of each window, as
retries given up at a window's start may begin a run, and the first after each failure
or followed message). The fold agent applies them (exactly once, with the
partial counts they ride in) and gets the counts of followed events. A lifecycle fed
these rows ends in the state replay reaches record by record: the records left out
change nothing in it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from detector.ingest import DecodedBatch
from detector.lifecycle.tracker import Lifecycle, Policy, Step
from detector.windows import WindowCounts, window_start

Row = list[Any]  # [ts, event_id, *Step] | [ts, None, errors, code, message] | [ts]


def rows(decoded: DecodedBatch, size: int) -> dict[str, list[Row]]:
    """Per operation, the records of the batch its lifecycle must see, in order
    (``size``: the window size); see ``kept``."""
    out: dict[str, list[Row]] = {}
    names, ops = decoded.batch.names, decoded.batch.ops
    for i in kept(decoded, size):
        out.setdefault(names[ops[i]], []).append(row(decoded, i))
    return out


def kept(decoded: DecodedBatch, size: int) -> list[int]:
    """The rows of the batch the lifecycles must see, by operation, each operation's in
    record order.

    A success is kept when its operation's lifecycle may be in a run of failures: it is
    the operation's first record in the batch or in a new window, or a failure or a
    followed message came since the operation's last success kept. Found with numpy (no
    Python step per record): in the records sorted by operation (stable, so in record
    order within each), a success is kept if a "reset" (any of those) lies between it and
    the previous success of the sort, resets included up to itself."""
    batch = decoded.batch
    n = len(batch)
    if not n:
        return []
    ops = np.asarray(batch.ops, dtype=np.int64)
    order = np.argsort(ops, kind="stable")
    sorted_ops = ops[order]
    slots = (np.asarray(batch.timestamps, dtype=np.float64) // size).astype(np.int64)[order]
    errors = np.asarray(batch.errors, dtype=np.int64)[order]
    calls = np.asarray(batch.calls, dtype=np.int64)[order]
    retries = np.asarray(batch.retries, dtype=np.int64)[order]
    followed = np.zeros(n, dtype=bool)
    if decoded.followed:
        followed[list(decoded.followed)] = True
    followed = followed[order]
    new_run = np.ones(n, dtype=bool)  # First of its operation, or another window.
    new_run[1:] = (sorted_ops[1:] != sorted_ops[:-1]) | (slots[1:] != slots[:-1])
    failure = followed | (errors > 0)
    resets = np.cumsum(new_run | failure)
    success = ~failure & (calls > retries)
    at = np.flatnonzero(success)
    kept_success = np.ones(len(at), dtype=bool)
    kept_success[1:] = resets[at[1:]] > resets[at[:-1]]
    keep = failure.copy()
    keep[at[kept_success]] = True
    found: list[int] = order[keep].tolist()
    return found


def row(decoded: DecodedBatch, i: int) -> Row:
    """What the lifecycle must see of the batch's row ``i``."""
    batch = decoded.batch
    call = decoded.followed.get(i)
    if call is not None:
        step = Step(call.status, call.event_type, call.error_code, call.error_message,
                    call.duration_ms)  # fmt: skip
        return [batch.timestamps[i], call.event_id, *step]
    if batch.errors[i]:
        code, message = decoded.codes.get(i, (None, None))
        return [batch.timestamps[i], None, batch.errors[i], code, message]
    return [batch.timestamps[i]]


def apply_once(
    life: Lifecycle, rows: list[Row], sources: dict[int, int], policy: Policy
) -> dict[int, WindowCounts]:
    """``apply`` the rows of the ingest batch that read the calls topic up to ``sources``
    (source partition -> last offset), once: the worker stores the lifecycle before the
    counts that say the batch was applied, so after a crash in between the batch comes
    again to a lifecycle that has it. Its counts are then the ones it gave the first time."""
    if sources and all(life.applied.get(p, -1) >= o for p, o in sources.items()):
        if not life.last or {int(p): o for p, o in life.last[0]} != sources:
            return {}  # Applied and counted before the batch the lifecycle saw last.
        return {int(s): WindowCounts.from_list(c) for s, *c in life.last[1]}
    counts = apply(life, rows, policy)
    for p, o in sources.items():
        life.applied[p] = max(o, life.applied.get(p, -1))
    life.last = [[[p, o] for p, o in sources.items()],
                 [[s, *c.to_list()] for s, c in counts.items()]]  # fmt: skip
    return counts


def apply(life: Lifecycle, rows: list[Row], policy: Policy) -> dict[int, WindowCounts]:
    """Feed an operation's rows to its lifecycle; the counts of its followed events by
    window start (with their error codes)."""
    counts: dict[int, WindowCounts] = {}
    for each in rows:
        calls, errors, retries = see(life, each, policy)
        if calls or errors or retries:
            window = counts.setdefault(window_start(float(each[0]), policy.window), WindowCounts())
            window.add(calls, errors, retries)
            if errors:
                window.add_codes({each[4] or "unknown": errors})
    return counts


def see(life: Lifecycle, row: Row, policy: Policy) -> tuple[int, int, int]:
    """Feed one row to its operation's lifecycle; the (calls, errors, retries) it counts
    (nothing but for followed events: the batch counts the others)."""
    ts = float(row[0])
    if len(row) == 1:
        life.count(ts, 1, 0, 0, None, None, policy)
    elif row[1] is None:
        _, _, errors, code, message = row
        life.count(ts, int(errors), int(errors), 0, code, message, policy)
    else:
        return life.follow(str(row[1]), ts, Step(*row[2:]), policy)
    return 0, 0, 0
