"""``detector users``: add a user, set a password, issue an API token, list who sees what.

Passwords are read without echo (or from stdin with ``--password-stdin``), or generated
and printed once; tokens are printed once. The running worker picks the file up within
ten seconds.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from agents.settings import load_settings
from agents.users import (
    existing,
    generated_password,
    hash_password,
    new_token,
    put_user,
    read_users,
)
from detector.access import User
from detector.errors import ConfigError


def _password(args: argparse.Namespace) -> tuple[str, bool]:
    """The new password, and whether it was generated (and must be shown)."""
    if args.generate:
        return generated_password(), True
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n"), False
    first = getpass.getpass("New password: ")
    if getpass.getpass("Again: ") != first:
        raise ConfigError("the two passwords differ; nothing changed")
    return first, False


def _add(args: argparse.Namespace) -> int:
    path = _path()
    if read_users(path).get(args.name) is not None:
        raise ConfigError(f"{args.name!r} exists in {path}; use `detector users passwd`")
    password, generated = _password(args) if not args.no_password else ("", False)
    try:
        user = User(
            name=args.name,
            role=args.role,
            integrations=tuple(args.integration),
            password=hash_password(password) if password else None,
        )
    except ValueError as exc:
        raise ConfigError(f"not a valid user: {exc}") from None
    put_user(path, user)
    print(f"users: added {user.name} ({user.role}) to {path}")
    return _shown(password, generated)


def _passwd(args: argparse.Namespace) -> int:
    path = _path()
    user = existing(path, args.name)
    password, generated = _password(args)
    put_user(path, user.model_copy(update={"password": hash_password(password)}))
    print(f"users: new password for {user.name}; their open sessions are ended")
    return _shown(password, generated)


def _shown(password: str, generated: bool) -> int:
    if generated:
        print(f"password (shown once): {password}")
    return 0


def _token(args: argparse.Namespace) -> int:
    path = _path()
    token = new_token(path, args.name)
    print(f"users: new API token for {args.name} (shown once; send as 'Authorization: Bearer')")
    print(token)
    return 0


def _list(_args: argparse.Namespace) -> int:
    path = _path()
    for user in read_users(path).users:
        sees = "everything" if user.role == "admin" else ", ".join(user.integrations) or "nothing"
        print(f"{user.name:<24} {user.role:<7} sees {sees}; {len(user.tokens)} token(s)")
    return 0


def _path() -> Path:
    settings = load_settings()
    return settings.users_file or settings.data_dir / "users.yaml"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    users = sub.add_parser("users", help="dashboard users: add, passwd, token, list")
    commands = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    add = commands.add_parser("add", help="add a user (admin sees all, viewer what is granted)")
    add.add_argument("name")
    add.add_argument("--role", choices=["admin", "viewer"], default="viewer")
    add.add_argument(
        "--integration",
        action="append",
        default=[],
        metavar="GLOB",
        help="integration a viewer sees (repeatable; globs like 'website*')",
    )
    add.add_argument(
        "--no-password", action="store_true", help="no password (SSO proxy or tokens only)"
    )
    add.set_defaults(run=_add)
    passwd = commands.add_parser("passwd", help="set a user's password")
    passwd.add_argument("name")
    passwd.set_defaults(run=_passwd)
    for command in (add, passwd):
        how = command.add_mutually_exclusive_group()
        how.add_argument("--generate", action="store_true", help="generate one, print it once")
        how.add_argument(
            "--password-stdin", action="store_true", help="read it from the first line of stdin"
        )
    token = commands.add_parser("token", help="issue an API token for scripts (printed once)")
    token.add_argument("name")
    token.set_defaults(run=_token)
    commands.add_parser("list", help="who sees what").set_defaults(run=_list)
