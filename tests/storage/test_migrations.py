"""The migrations build exactly the models' schema; a database not migrated is refused."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import migrate
from storage.db import create_engine
from storage.migrate import (
    DatabaseNotMigrated,
    alembic_config,
    context_options,
    current_revision,
    ensure_migrated,
    head_revision,
    upgrade,
)
from storage.models import Base


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts=context_options(connection))
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def _downgrade_to_base(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, "base")


async def test_migrated_schema_equals_the_models(db_url: str) -> None:
    await upgrade(db_url)
    engine = create_engine(db_url)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(_differences)
            tables = await connection.run_sync(_tables)
    finally:
        await engine.dispose()
    assert differences == []
    assert tables == set(Base.metadata.tables) | {"alembic_version"}


async def test_constraint_names_follow_the_naming_convention(engine: AsyncEngine) -> None:
    def names(connection: Connection) -> dict[str, Any]:
        inspector = inspect(connection)
        return {
            "identity_unique": [c["name"] for c in inspector.get_unique_constraints("identity")],
            "idea_foreign": sorted(str(k["name"]) for k in inspector.get_foreign_keys("idea")),
            "outbox_indexes": sorted(
                str(i["name"]) for i in inspector.get_indexes("outbox_message")
            ),
        }

    async with engine.connect() as connection:
        found = await connection.run_sync(names)
    assert found["identity_unique"] == ["uq_identity_platform"]
    assert found["idea_foreign"] == ["fk_idea_merged_into_id_idea", "fk_idea_person_id_person"]
    assert {"ix_outbox_message_due", "ix_outbox_message_chat_id"} <= set(found["outbox_indexes"])


async def test_upgrade_records_the_head_revision(db_url: str) -> None:
    await upgrade(db_url)
    engine = create_engine(db_url)
    try:
        assert await current_revision(engine) == head_revision()
        await upgrade(db_url)  # a second upgrade is a no-op
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()


async def test_downgrade_to_base_removes_every_table(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(_downgrade_to_base)
    async with engine.connect() as connection:
        assert await connection.run_sync(_tables) <= {"alembic_version"}
    assert await current_revision(engine) is None


async def test_ensure_migrated_refuses_an_empty_database(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        assert await current_revision(engine) is None
        with pytest.raises(DatabaseNotMigrated) as raised:
            await ensure_migrated(engine)
    finally:
        await engine.dispose()
    message = str(raised.value)
    assert "innobot db upgrade" in message
    assert head_revision() in message
    assert raised.value.current is None
    assert raised.value.expected == head_revision()


async def test_ensure_migrated_accepts_a_migrated_database(engine: AsyncEngine) -> None:
    await ensure_migrated(engine)


async def test_ensure_migrated_refuses_a_revision_it_does_not_know(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = 'f00dcafe'"))
    with pytest.raises(DatabaseNotMigrated) as raised:
        await ensure_migrated(engine)
    assert raised.value.current == "f00dcafe"
    assert "f00dcafe" in str(raised.value)
    assert "newer innobot" in str(raised.value)


async def test_migrations_are_found_from_any_working_directory(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    await upgrade(sqlite_url)
    engine = create_engine(sqlite_url)
    try:
        await ensure_migrated(engine)
    finally:
        await engine.dispose()
    assert list(elsewhere.iterdir()) == []


async def test_ensure_migrated_refuses_a_database_behind_and_upgrade_catches_up(
    engine: AsyncEngine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A later revision, as the next version of innobot would ship it.
    later = tmp_path / "later"
    later.mkdir()
    (later / "9001_note.py").write_text(
        "import sqlalchemy as sa\n"
        "from alembic import op\n"
        f"revision = '9001'\ndown_revision = {head_revision()!r}\n"
        "branch_labels = None\ndepends_on = None\n"
        "def upgrade():\n"
        "    op.create_table('note', sa.Column('id', sa.Integer(), primary_key=True))\n"
        "def downgrade():\n"
        "    op.drop_table('note')\n"
    )
    shipped = migrate.alembic_config

    def with_later_revision(url: str | None = None) -> Config:
        config = shipped(url)
        config.set_main_option(
            "version_locations", f"{migrate.migrations_dir() / 'versions'}{os.pathsep}{later}"
        )
        return config

    previous_head = head_revision()
    monkeypatch.setattr(migrate, "alembic_config", with_later_revision)
    assert head_revision() == "9001"

    with pytest.raises(DatabaseNotMigrated) as raised:
        await ensure_migrated(engine)
    assert raised.value.current == previous_head
    assert raised.value.expected == "9001"
    assert f"at revision {previous_head}" in str(raised.value)
    assert "innobot db upgrade" in str(raised.value)

    await upgrade(db_url)
    await ensure_migrated(engine)
    async with engine.connect() as connection:
        assert "note" in await connection.run_sync(_tables)
