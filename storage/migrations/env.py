"""Alembic's entry point for innobot: migrations run on the connection ``storage.migrate`` passes.

``storage.migrate`` opens an async connection and hands its synchronous facade to Alembic through
``config.attributes["connection"]``. Without one (Alembic's own command line, given a
``sqlalchemy.url``), an engine is created here for the duration of the command.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from storage.migrate import context_options

config = context.config


def run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, **context_options(connection))
    with context.begin_transaction():
        context.run_migrations()


async def run_with_new_engine(url: str) -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_migrations)
            await connection.commit()
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
