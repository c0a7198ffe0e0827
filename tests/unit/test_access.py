"""The users file and its grants: parsing with clear errors, viewers limited to their
integrations, the login rate limit, and the file the CLI writes and the worker re-reads."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agents.cli import main
from agents.users import UsersFile, check_password, read_users
from detector.access import LoginLimiter, User, parse_users, token_digest
from detector.errors import ConfigError


def test_admins_see_everything_viewers_only_their_integrations() -> None:
    admin = User(name="anna", role="admin")
    viewer = User(name="vic", integrations=("web*", "crm"))
    assert admin.sees(None)
    assert admin.sees("erp")
    assert viewer.sees("website")
    assert viewer.sees("crm")
    assert not viewer.sees("crm-eu")
    assert not viewer.sees(None)
    assert not User(name="nobody").sees("website")


@pytest.mark.parametrize(
    ("data", "mentions"),
    [
        ({"users": [{"name": "a"}, {"name": "a"}]}, "unique: a"),
        ({"users": [{"name": "a", "role": "root"}]}, "users[0].role"),
        ({"users": [{"name": "has space"}]}, "users[0].name"),
        ({"users": [{"name": "a", "tokens": ["plain-token"]}]}, "users[0].tokens"),
        ({"users": [{"name": "a", "colour": "red"}]}, "users[0].colour"),
    ],
)
def test_a_broken_users_file_names_the_entry_and_field(
    data: dict[str, object], mentions: str
) -> None:
    with pytest.raises(ConfigError, match=mentions.replace("[", r"\[").replace("]", r"\]")):
        parse_users(data, "users.yaml")


def test_tokens_are_found_by_digest_only() -> None:
    users = parse_users({"users": [{"name": "bot", "tokens": [token_digest("dtk_x")]}]}, "f")
    found = users.by_token("dtk_x")
    assert found is not None
    assert found.name == "bot"
    assert users.by_token(token_digest("dtk_x")) is None


@given(
    attempts=st.integers(1, 10),
    window=st.floats(1, 1000),
    gaps=st.lists(st.floats(0, 100), min_size=1, max_size=30),
)
def test_the_limiter_allows_exactly_attempts_failures_per_window(
    attempts: int, window: float, gaps: list[float]
) -> None:
    limiter = LoginLimiter(attempts=attempts, window=window)
    now, failures = 0.0, []
    for gap in gaps:
        now += gap
        recent = [t for t in failures if t > now - window]
        assert (limiter.retry_after(("addr:x",), now) > 0) == (len(recent) >= attempts)
        if limiter.retry_after(("addr:x",), now) == 0:
            limiter.failed(("addr:x",), now)
            failures.append(now)
    limiter.succeeded(("addr:x",))
    assert limiter.retry_after(("addr:x",), now) == 0


def test_the_cli_writes_users_the_worker_reads_and_reloads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "users.yaml"
    monkeypatch.setenv("DETECTOR_USERS_FILE", str(path))
    watched = UsersFile(path)
    assert watched.current.users == ()
    assert main(["users", "add", "anna", "--role", "admin", "--generate"]) == 0
    password = capsys.readouterr().out.split("password (shown once): ")[1].strip()
    assert password not in path.read_text()
    assert os.stat(path).st_mode & 0o777 == 0o600
    watched.mtime = None  # Within the file system's mtime resolution of the first check.
    assert watched.check()
    anna = watched.current.get("anna")
    assert anna is not None
    assert check_password(anna, password)
    assert not check_password(anna, password + "x")
    assert not check_password(None, password)
    assert main(["users", "token", "anna"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert read_users(path).by_token(token) is not None
    assert main(["users", "add", "anna", "--generate"]) == 2  # Exists already.
    assert main(["users", "passwd", "nobody", "--generate"]) == 2
    path.write_text("users: [{name: x, role: root}]\n")
    watched.mtime = None
    assert not watched.check()  # A broken version is refused, the last good one kept.
    assert watched.current.get("anna") is not None
