"""Schema migrations: bring a database to the schema this innobot expects, or say why not.

The Alembic configuration is built here (there is no ``alembic.ini``); the scripts are found
inside the installed ``storage`` package, whatever the current directory is.

New revisions, for developers: ``python -m storage.migrate revision "what changed"`` compares the
models with a scratch SQLite database migrated to head and writes the differences as a new script
in ``storage/migrations/versions/`` (read and tidy it before committing).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.types import TypeDecorator

from storage.db import create_engine
from storage.models import Base

UPGRADE_COMMAND = "innobot db upgrade"


class DatabaseNotMigrated(RuntimeError):
    """The database's schema is not the one this version of innobot expects."""

    def __init__(self, current: str | None, expected: str, message: str) -> None:
        super().__init__(message)
        self.current = current
        self.expected = expected


def migrations_dir() -> Path:
    """The directory holding ``env.py`` and ``versions/``, inside the installed package."""
    return Path(str(resources.files("storage.migrations")))


def alembic_config(url: str | None = None) -> Config:
    """An Alembic configuration for innobot's migrations (and, if given, the database ``url``)."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("path_separator", "os")
    if url is not None:
        # ConfigParser interpolation treats "%" as special (it occurs in escaped passwords).
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _render_item(type_: str, obj: Any, _context: AutogenContext) -> str | Literal[False]:
    """Write our column types (UTCDateTime) as the plain SQLAlchemy types they are stored as.

    A migration must not import the models: they change, a migration does not.
    """
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl_instance!r}"
    return False


def context_options(connection: Connection) -> dict[str, Any]:
    """Alembic's options for migrating and comparing (batch mode on SQLite's weak ALTER TABLE)."""
    return {
        "target_metadata": Base.metadata,
        "render_as_batch": connection.dialect.name == "sqlite",
        "compare_type": True,
        "render_item": _render_item,
    }


def head_revision() -> str:
    """The revision a database must be at for this version of innobot."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("innobot ships no migrations")
    return head


def _upgrade_on(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` to ``revision`` (by default the latest one)."""
    engine = create_engine(url)
    try:
        await upgrade_engine(engine, revision)
    finally:
        await engine.dispose()


async def upgrade_engine(engine: AsyncEngine, revision: str = "head") -> None:
    """Migrate the database behind ``engine`` to ``revision``, in one transaction."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade_on, revision)


def _current_on(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None when it has never been migrated."""
    async with engine.connect() as connection:
        return await connection.run_sync(_current_on)


async def ensure_migrated(engine: AsyncEngine) -> None:
    """Return if the database is at the expected revision; raise DatabaseNotMigrated if not."""
    expected = head_revision()
    current = await current_revision(engine)
    if current == expected:
        return
    if current is None:
        message = (
            f"The database has no innobot schema (expected revision {expected}). "
            f"Create it with: {UPGRADE_COMMAND}"
        )
    elif _is_known(current):
        message = (
            f"The database is at revision {current}, this version of innobot needs {expected}. "
            f"Migrate it with: {UPGRADE_COMMAND}"
        )
    else:
        message = (
            f"The database is at revision {current}, which this version of innobot does not know "
            f"(it needs {expected}): the database was migrated by a newer innobot. "
            "Run that version, or restore a backup made before the upgrade."
        )
    raise DatabaseNotMigrated(current, expected, message)


def _is_known(revision: str) -> bool:
    script = ScriptDirectory.from_config(alembic_config())
    return any(known.revision == revision for known in script.walk_revisions())


async def _autogenerate(message: str) -> None:
    with tempfile.TemporaryDirectory(prefix="innobot-revision-") as scratch:
        url = f"sqlite+aiosqlite:///{Path(scratch) / 'scratch.db'}"
        await upgrade(url)
        config = alembic_config(url)
        config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
        hooks = {
            "hooks": "ruff_format",
            "ruff_format.type": "module",
            "ruff_format.module": "ruff",
            "ruff_format.options": "format REVISION_SCRIPT_FILENAME",
        }
        for option, value in hooks.items():
            config.set_section_option("post_write_hooks", option, value)
        head = head_revision()
        rev_id = f"{int(head) + 1:04d}" if head.isdigit() else None
        await asyncio.to_thread(
            command.revision, config, message=message, autogenerate=True, rev_id=rev_id
        )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] != "revision":
        print('usage: python -m storage.migrate revision "what changed"', file=sys.stderr)
        return 2
    asyncio.run(_autogenerate(args[1]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
