"""The replay's reader process: the same blocks as reading in-process, its errors
raised as if read here, and stopped when the replay stops."""

from __future__ import annotations

import io
import multiprocessing
import os
from pathlib import Path

import orjson
import pytest

from agents import commands
from detector.errors import ConfigError
from detector.opconfig import DetectionConfig
from detector.simulate import PROFILES, generate
from tests.unit.detection_helpers import DAY, MONDAY


@pytest.fixture
def events(tmp_path: Path) -> Path:
    lines = [orjson.dumps(r) for r in generate(PROFILES[:3], [], MONDAY, MONDAY + 2 * DAY)]
    lines.insert(5, b"{broken")
    lines.insert(900, b'{"operation": "A"}')
    lines.insert(3000, b"")
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def replayed(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[bytes, str]:
    out = io.BytesIO()
    commands.run_replay(path, DetectionConfig(), 60, out, report=None)
    err = capsys.readouterr().err
    return out.getvalue(), err.rsplit(" in ", 1)[0] + err.rsplit(" s:", 1)[1]


def test_the_reader_process_gives_what_reading_here_gives(
    events: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(commands, "BLOCK", 500)  # Many blocks, some with a bad line.
    here = replayed(events, capsys)
    monkeypatch.setattr(commands, "AHEAD_BYTES", 0)
    ahead = replayed(events, capsys)
    assert here == ahead
    assert here[0].count(b"\n") > 3
    assert f"{events}:6: skipped: not_json" in ahead[1]
    assert "2 invalid lines skipped" in ahead[1]


def test_an_error_in_the_reader_is_raised_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(commands, "AHEAD_BYTES", 0)
    with pytest.raises(ConfigError, match="cannot read"):  # A directory: it cannot open it.
        list(commands.read_ahead(tmp_path, DetectionConfig()))


def test_a_reader_that_dies_is_reported(events: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(commands, "AHEAD_BYTES", 0)
    monkeypatch.setattr(commands, "_read_into", lambda *args: os._exit(3))
    with pytest.raises(ConfigError, match="ended with exit code 3"):
        list(commands.read_ahead(events, DetectionConfig()))


def test_the_reader_stops_with_the_replay(events: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(commands, "BLOCK", 100)
    monkeypatch.setattr(commands, "AHEAD_BYTES", 0)
    blocks = commands.read_ahead(events, DetectionConfig())
    next(blocks)
    assert multiprocessing.active_children()
    blocks.close()  # As when the output's reader goes away or Ctrl-C stops the replay.
    assert not multiprocessing.active_children()
