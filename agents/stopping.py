"""A worker's stop, bounded in time.

Stopping, a worker commits its ingest batch in flight and Faust flushes its producer;
that takes a second or two. Faust's own stop can also hang: on the shared development
machine, workers stopped after reading a large backlog waited for good in Faust's table
manager, which stops each table and waits for the table's tasks (a supervisor then has
to kill them). Past ``seconds`` the worker therefore exits on its own. Nothing is lost
that way: a worker killed at any moment leaves an open transaction that is aborted, and
what it had not committed is read again, as after a crash (README, "Exact counts").
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

STOP_SECONDS = 15.0


def bound(
    seconds: float = STOP_SECONDS, exit: Callable[[int], object] = os._exit
) -> threading.Timer:
    """Start the clock of a stop: ``exit(1)`` after ``seconds`` unless the process has
    ended (the timer is a daemon thread) or the timer is cancelled."""

    def give_up() -> None:
        log.error(
            "the worker did not stop within %.0f s; exiting now (what it had not committed "
            "is read again at its next start or by another worker, as after a crash)",
            seconds,
        )
        logging.shutdown()
        exit(1)

    timer = threading.Timer(seconds, give_up)
    timer.daemon = True
    timer.start()
    return timer
