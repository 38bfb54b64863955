"""Alembic's entry point for innobot: migrations run on the connection ``storage.migrate`` passes.

``storage.migrate`` opens an async connection and hands its synchronous facade to Alembic through
``config.attributes["connection"]``. Without one (Alembic's own command line, given a
``sqlalchemy.url``), an engine is created here for the duration of the command.
"""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.types import TypeDecorator

from storage.models import Base

config = context.config
target_metadata = Base.metadata


def render_item(type_: str, obj: Any, _autogen_context: AutogenContext) -> str | bool:
    """Write our column types (UTCDateTime) as the plain SQLAlchemy types they store as.

    A migration must not import the models: they change, a migration does not.
    """
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl_instance!r}"
    return False


def configure_options(connection: Connection) -> dict[str, Any]:
    """Options shared by migrating and comparing: batch mode where ALTER TABLE is weak (SQLite)."""
    return {
        "target_metadata": target_metadata,
        "render_as_batch": connection.dialect.name == "sqlite",
        "compare_type": True,
        "render_item": render_item,
    }


def run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, **configure_options(connection))
    with context.begin_transaction():
        context.run_migrations()


async def run_with_new_engine(url: str) -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_migrations)
    finally:
        await engine.dispose()


def main() -> None:
    if context.is_offline_mode():
        raise RuntimeError("innobot's migrations run online only (against a database)")
    connection = config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database: pass a connection or set sqlalchemy.url")
    asyncio.run(run_with_new_engine(url))


main()
