"""The subscriptions file: the example in deploy/ is valid, a broken file fails at
start, a broken new version is reported and the old one kept; and the backoff."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agents.notify.reload import SubscriptionsFile
from agents.notify.retry import Backoff
from detector.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
GOOD = "subscribers:\n  - {email: a@example.com, operations: ['*']}\n"
BROKEN = "subscribers:\n  - {email: a@example.com, operations: ['*'], statuses: [bad]}\n"


def test_the_example_file_is_valid() -> None:
    subs = SubscriptionsFile(ROOT / "deploy/subscriptions.example.yaml").current
    assert subs.subscribers


def test_a_broken_file_fails_at_start_naming_file_entry_and_field(tmp_path: Path) -> None:
    path = tmp_path / "subs.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"{path}: subscribers\[0\]\.statuses\.0"):
        SubscriptionsFile(path)


def test_reload_takes_a_new_version_and_keeps_the_old_when_broken(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "subs.yaml"
    path.write_text(GOOD, encoding="utf-8")
    subs = SubscriptionsFile(path)
    assert subs.check() is False
    _rewrite(path, GOOD.replace("a@example", "b@example"), 1)
    assert subs.check() is True
    assert subs.current.subscribers[0].email == "b@example.com"
    _rewrite(path, BROKEN, 2)
    assert subs.check() is False
    assert subs.current.subscribers[0].email == "b@example.com"
    assert "statuses" in caplog.text


def test_webhook_setting_subscribes_to_everything(tmp_path: Path) -> None:
    subs = SubscriptionsFile(None, "https://chat.example/hook").current
    assert [s.address for s in subs.for_change("Any.op", None)] == ["https://chat.example/hook"]


def test_alertmanager_setting_subscribes_to_everything_beside_the_file() -> None:
    path = ROOT / "deploy/subscriptions.example.yaml"
    subs = SubscriptionsFile(path, None, "http://am:9093").current
    assert subs.subscribers[-1].address == "alertmanager+http://am:9093"
    assert subs.subscribers[-1].wants("Any.op", None)
    assert len(subs.subscribers) == len(SubscriptionsFile(path).current.subscribers) + 1


def _rewrite(path: Path, text: str, seconds_later: int) -> None:
    path.write_text(text, encoding="utf-8")
    stat = path.stat()
    os.utime(path, (stat.st_atime, stat.st_mtime + seconds_later))


@pytest.mark.parametrize(
    ("attempt", "jitter", "delay"),
    [(0, 0.0, 1.0), (0, 1.0, 2.0), (3, 0.0, 8.0), (8, 0.5, 45.0), (9, 0.0, None)],
)
def test_backoff_doubles_with_jitter_caps_and_gives_up(
    attempt: int, jitter: float, delay: float | None
) -> None:
    backoff = Backoff(2.0, 60.0, give_up_after=10, random=lambda: jitter)
    assert backoff.delay(attempt) == delay
