"""The users file (``DETECTOR_USERS_FILE``, see ``detector.access``): read and re-read
by the worker, changed by ``detector users``. Passwords are kept as argon2id hashes, API
tokens as sha256 digests; neither is ever written or logged in the clear.

Writes go to a temporary file renamed over the old one (mode 600), so a worker re-reading
the file never sees half of it.
"""

from __future__ import annotations

import functools
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

import yaml
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from agents.files import read_yaml
from agents.watched import WatchedFile
from detector.access import User, Users, parse_users, token_digest
from detector.errors import ConfigError

_HASHER = PasswordHasher()
MIN_PASSWORD = 12


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ConfigError(f"a password needs at least {MIN_PASSWORD} characters")
    return _HASHER.hash(password)


@functools.cache
def dummy_hash() -> str:
    """Verified when the user is unknown, so a wrong name costs as long as a wrong
    password. Made on first use (the worker warms it at start), not at import: hashing
    takes a noticeable share of a second and every ``detector`` command imports this."""
    return _HASHER.hash(secrets.token_hex(16))


def check_password(user: User | None, password: str) -> bool:
    """True if ``password`` is ``user``'s; as slow for an unknown user or no password."""
    dummy = dummy_hash()
    stored = user.password if user is not None and user.password else dummy
    try:
        ok = _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False
    return ok and stored is not dummy


def read_users(path: Path) -> Users:
    """The users in ``path``; none when the file does not exist yet."""
    if not path.exists():
        return Users()
    return parse_users(read_yaml(path, "users"), str(path))


class UsersFile(WatchedFile[Users]):
    what = "users"
    path: Path

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        dummy_hash()  # Before the first login, so an unknown name is never quicker.

    def parse(self) -> Users:
        return read_users(self.path)


def write_users(path: Path, users: Users) -> None:
    data: dict[str, Any] = {
        "users": [u.model_dump(mode="json", exclude_defaults=True) for u in users.users]
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write("# Users of the dashboard; edit with `detector users` (see README).\n")
            yaml.safe_dump(data, out, sort_keys=False)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def put_user(path: Path, user: User) -> None:
    """Add ``user``, or replace the one of the same name."""
    users = read_users(path)
    others = tuple(u for u in users.users if u.name != user.name)
    write_users(path, Users(users=(*others, user)))


def existing(path: Path, name: str) -> User:
    user = read_users(path).get(name)
    if user is None:
        raise ConfigError(f"no user {name!r} in {path}; add one with `detector users add`")
    return user


def new_token(path: Path, name: str) -> str:
    """A fresh API token for ``name`` (shown once; only its digest is kept)."""
    user = existing(path, name)
    token = "dtk_" + secrets.token_urlsafe(32)
    put_user(path, user.model_copy(update={"tokens": (*user.tokens, token_digest(token))}))
    return token


def generated_password() -> str:
    return secrets.token_urlsafe(18)
