"""The dashboard's commands: ``innobot users add|remove|password|list`` and ``innobot export``."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.settings import Settings

Subparsers = Any  # argparse's private _SubParsersAction


@asynccontextmanager
async def _session(settings: Settings) -> AsyncIterator[AsyncSession]:
    from storage.db import create_engine, session_factory
    from storage.migrate import ensure_migrated

    engine = create_engine(settings.resolved_database_url())
    try:
        await ensure_migrated(engine)
        async with session_factory(engine)() as session, session.begin():
            yield session
    finally:
        await engine.dispose()


def _read_password(from_stdin: bool) -> str | None:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        print("innobot: the two passwords differ", file=sys.stderr)
        return None
    return first


async def _users_add(settings: Settings, args: argparse.Namespace) -> int:
    from storage.accounts import AccountError, add_account, check_password, check_username

    try:
        check_username(args.name)
        password = _read_password(args.password_stdin)
        if password is None:
            return 2
        check_password(password)
        async with _session(settings) as session:
            await add_account(session, args.name, password, args.language)
    except AccountError as error:
        print(f"innobot: {error}", file=sys.stderr)
        return 2
    print(f"dashboard account {args.name} added")
    return 0


async def _users_password(settings: Settings, args: argparse.Namespace) -> int:
    from storage.accounts import AccountError, check_password, set_password

    try:
        password = _read_password(args.password_stdin)
        if password is None:
            return 2
        check_password(password)
        async with _session(settings) as session:
            await set_password(session, args.name, password)
    except AccountError as error:
        print(f"innobot: {error}", file=sys.stderr)
        return 2
    print(f"new password set for {args.name}; its sessions have ended")
    return 0


async def _users_remove(settings: Settings, args: argparse.Namespace) -> int:
    from storage.accounts import remove_account

    async with _session(settings) as session:
        removed = await remove_account(session, args.name)
    if not removed:
        print(f"innobot: there is no dashboard account {args.name!r}", file=sys.stderr)
        return 1
    print(f"dashboard account {args.name} removed (and signed out)")
    return 0


async def _users_list(settings: Settings, _args: argparse.Namespace) -> int:
    from storage.accounts import list_accounts

    async with _session(settings) as session:
        found = await list_accounts(session)
    for account in found:
        last = account.last_login_at.isoformat(timespec="minutes") if account.last_login_at else "-"
        print(f"{account.username}\t{account.language}\tlast sign-in {last}")
    if not found:
        print("no dashboard accounts (add one with: innobot users add NAME)")
    return 0


async def _export(settings: Settings, args: argparse.Namespace) -> int:
    from bot.dashboard import export

    async with _session(settings) as session:
        data = await export.collect(session)
    body, _media_type, filename = export.render(data, args.format)
    if args.output == "-":
        if args.format == "csv" and sys.stdout.isatty():
            print("innobot: a ZIP archive is not for a terminal; use --output", file=sys.stderr)
            return 2
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
        return 0
    path = Path(args.output) if args.output else Path(filename)
    path.write_bytes(body)
    print(f"wrote {path} ({len(data.items)} public items)", file=sys.stderr)
    return 0


def _runner(
    command: Callable[[Settings, argparse.Namespace], Any],
) -> Callable[[argparse.Namespace, Settings], int]:
    return lambda args, settings: int(asyncio.run(command(settings, args)))


def register(commands: Subparsers) -> None:
    """Add ``users`` and ``export`` to innobot's command line."""
    users = commands.add_parser("users", help="manage the dashboard's accounts")
    user_commands = users.add_subparsers(dest="users_command", required=True)

    add = user_commands.add_parser("add", help="add a dashboard account (asks for its password)")
    add.add_argument("name", help="user name: letters, digits, . _ @ -")
    add.add_argument("--language", choices=["en", "it", "sv"], default="en")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    add.set_defaults(func=_runner(_users_add))

    password = user_commands.add_parser("password", help="set a new password for an account")
    password.add_argument("name")
    password.add_argument("--password-stdin", action="store_true")
    password.set_defaults(func=_runner(_users_password))

    remove = user_commands.add_parser("remove", help="remove a dashboard account")
    remove.add_argument("name")
    remove.set_defaults(func=_runner(_users_remove))

    listing = user_commands.add_parser("list", help="list the dashboard accounts")
    listing.set_defaults(func=_runner(_users_list))

    export = commands.add_parser(
        "export", help="write the open-data export (statistics and approved public items)"
    )
    export.add_argument("--format", choices=["json", "csv"], default="json")
    export.add_argument(
        "--output",
        help="file to write (default: innobot-open-data-DATE.json or .zip; - for standard output)",
    )
    export.set_defaults(func=_runner(_export))
