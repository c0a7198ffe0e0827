"""A worker's stop is bounded: past its time, the process exits on its own."""

from __future__ import annotations

import time

from agents import stopping


def test_a_stop_past_its_time_exits_and_one_in_time_does_not() -> None:
    exits: list[int] = []
    stopping.bound(0.05, exit=exits.append)
    in_time = stopping.bound(0.05, exit=exits.append)
    in_time.cancel()
    deadline = time.monotonic() + 5
    while not exits and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    assert exits == [1]
