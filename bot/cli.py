"""The ``innobot`` command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from bot import logs
from bot.settings import Settings
from nlp.models import ModelError
from storage.migrate import DatabaseNotMigrated

log = logging.getLogger("innobot")


def _settings() -> Settings:
    return Settings()


async def _run(settings: Settings) -> int:
    from bot.app import build_app

    if settings.telegram_token is None:
        log.warning("INNOBOT_TELEGRAM_TOKEN is not set: Telegram is not started")
    if settings.telegram_mode == "webhook" and (
        settings.webhook_url is None or settings.webhook_secret is None
    ):
        print(
            "innobot: webhook mode needs INNOBOT_WEBHOOK_URL and INNOBOT_WEBHOOK_SECRET",
            file=sys.stderr,
        )
        return 2
    app = await build_app(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await app.start()
    log.info("innobot is running (Telegram: %s)", settings.telegram_mode if app.telegram else "off")
    try:
        await stop.wait()
    finally:
        log.info("stopping: no new updates; queued messages stay in the outbox")
        await asyncio.wait_for(app.stop(), timeout=10)
    return 0


async def _chat(settings: Settings, demo: bool, user: str) -> int:
    from bot.adapters.console import ConsoleAdapter
    from bot.app import build_app

    app = await build_app(settings, telegram=False, web_server=False)
    console = ConsoleAdapter(
        app.dispatcher.handle, export_dir=settings.data_dir / "exports", user=user
    )
    app.add_adapter(console)
    await app.start()
    try:
        if demo:
            from bot.demo import seed_demo

            added = await seed_demo(app.sessions)
            if added:
                print(f"(demo data added: {added} items)")
        await console.run()
    finally:
        await app.stop()
    return 0


async def _db_upgrade(settings: Settings, revision: str) -> int:
    from storage.migrate import upgrade

    await upgrade(settings.resolved_database_url(), revision)
    print(f"database upgraded to {revision}")
    return 0


async def _db_current(settings: Settings) -> int:
    from storage.db import create_engine
    from storage.migrate import current_revision, head_revision

    engine = create_engine(settings.resolved_database_url())
    try:
        current = await current_revision(engine)
    finally:
        await engine.dispose()
    print(f"current: {current or '(empty database)'}\nhead:    {head_revision()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="innobot",
        description="innobot: a chat assistant for open-innovation programmes.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the bot (Telegram and the web server)")
    run.set_defaults(func=lambda a, s: asyncio.run(_run(s)))

    chat = commands.add_parser("chat", help="talk to innobot in this terminal")
    chat.add_argument("--demo", action="store_true", help="add demo challenges, profiles, ideas")
    chat.add_argument("--user", default="console-user", help="who you are in this chat")
    chat.set_defaults(func=lambda a, s: asyncio.run(_chat(s, a.demo, a.user)))

    db = commands.add_parser("db", help="manage the database")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    up = db_commands.add_parser("upgrade", help="create or migrate the database schema")
    up.add_argument("--revision", default="head")
    up.set_defaults(func=lambda a, s: asyncio.run(_db_upgrade(s, a.revision)))
    cur = db_commands.add_parser("current", help="show the schema revision")
    cur.set_defaults(func=lambda a, s: asyncio.run(_db_current(s)))

    # The dashboard's commands: innobot users add|remove|password|list, innobot export.
    from bot.dashboard.cli import register as register_dashboard

    register_dashboard(commands)

    try:
        from nlp.cli import register
    except ImportError:
        pass
    else:
        register(commands)

    from nlp.matching.cli import register as register_matching

    register_matching(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = _settings()
    except ValidationError as exc:
        print(f"innobot: invalid configuration:\n{exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level, settings.log_format)
    try:
        if args.command == "nlp":
            return int(args.func(args))
        return int(args.func(args, settings))
    except DatabaseNotMigrated as exc:
        print(f"innobot: {exc}", file=sys.stderr)
        return 3
    except ModelError as exc:
        print(f"innobot: {exc}", file=sys.stderr)
        return 4
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
