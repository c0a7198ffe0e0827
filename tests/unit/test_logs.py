"""Repeated warnings are held back for an interval and counted in the next one."""

from __future__ import annotations

import logging

import pytest

from agents.logs import Repeats


def _record(msg: str, level: int = logging.ERROR, name: str = "aiokafka") -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, None, None)


def test_repeats_are_held_back_and_counted() -> None:
    now = [0.0]
    repeats = Repeats(60.0, clock=lambda: now[0])
    assert repeats.filter(_record("Unable connect to node %s"))
    passed = []
    for i in range(412):
        now[0] = i * 0.1
        passed.append(repeats.filter(_record("Unable connect to node %s")))
    assert not any(passed)
    assert repeats.filter(_record("another error"))  # Another kind is not held back.
    assert repeats.filter(_record("Unable connect to node %s", logging.INFO))  # Nor info.
    now[0] = 61.0
    late = _record("Unable connect to node %s")
    assert repeats.filter(late)
    assert late.msg.endswith("; 412 similar in the last 60 s")
    fresh = _record("Unable connect to node %s")
    now[0] = 130.0
    assert repeats.filter(fresh)
    assert fresh.msg == "Unable connect to node %s"


def test_the_same_template_with_other_values_is_not_a_repeat() -> None:
    repeats = Repeats(60.0, clock=lambda: 0.0)
    first = logging.LogRecord("q", logging.ERROR, __file__, 1, "bad record of %r", ("A",), None)
    other = logging.LogRecord("q", logging.ERROR, __file__, 1, "bad record of %r", ("B",), None)
    again = logging.LogRecord("q", logging.ERROR, __file__, 1, "bad record of %r", ("A",), None)
    assert repeats.filter(first)
    assert repeats.filter(other)
    assert not repeats.filter(again)


def test_repeats_held_back_are_told_when_their_window_is_over(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A failure that stops before its next line (the broker is back) is still told, once."""
    now = [0.0]
    repeats = Repeats(60.0, clock=lambda: now[0])
    logger = logging.getLogger("test.repeats")
    logger.addFilter(repeats)
    try:
        with caplog.at_level(logging.WARNING, logger="test.repeats"):
            for i in range(38):
                now[0] = i * 0.5
                logger.error("Unable connect to node %s", 1)
            repeats.flush()  # Within the window: nothing to say yet.
            assert len(caplog.records) == 1
            now[0] = 61.0
            repeats.flush()
            repeats.flush()  # Said once.
            now[0] = 130.0
            repeats.flush()
    finally:
        logger.removeFilter(repeats)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "Unable connect to node 1",
        "Unable connect to node 1; 37 similar in the last 61 s",
    ]
    assert caplog.records[1].levelno == logging.ERROR
