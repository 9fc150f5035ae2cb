"""Each service's Alembic migrations build exactly the tables its models describe, on SQLite and
PostgreSQL alike; re-running them is harmless; and they can be rolled back and replayed."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, inspect, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from yts_chassis.migrations import alembic_config, upgrade_async

SERVICES = ("enrolment", "sessions", "notifications", "reporting")
MakeDatabase = Callable[[str], Coroutine[Any, Any, str]]


class ServiceSchema:
    """A service's models (``store.metadata``) and its migration scripts (``main.MIGRATIONS``)."""

    def __init__(self, service: str) -> None:
        self.name = service
        self.metadata: MetaData = importlib.import_module(f"yts_{service}.store").metadata
        self.migrations: Path = importlib.import_module(f"yts_{service}.main").MIGRATIONS

    def head(self, url: str) -> str | None:
        return ScriptDirectory.from_config(alembic_config(url, self.migrations)).get_current_head()


@pytest.fixture(params=SERVICES)
def schema(request: pytest.FixtureRequest) -> ServiceSchema:
    return ServiceSchema(request.param)


@pytest.fixture
async def database(schema: ServiceSchema, database_factory: MakeDatabase) -> str:
    return await database_factory(f"migrations_{schema.name}")


@pytest.fixture
async def engine(database: str) -> AsyncIterator[AsyncEngine]:
    # NullPool: no connection stays open across Alembic's own runs (PostgreSQL DDL would wait).
    async_engine = create_async_engine(database, poolclass=pool.NullPool)
    try:
        yield async_engine
    finally:
        await async_engine.dispose()


async def downgrade(url: str, migrations: Path, revision: str) -> None:
    await asyncio.to_thread(command.downgrade, alembic_config(url, migrations), revision)


async def differences(engine: AsyncEngine, metadata: MetaData) -> list[Any]:
    """What autogenerate would write to make the database match the models."""

    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with engine.connect() as connection:
        return await connection.run_sync(compare)


async def state(engine: AsyncEngine) -> tuple[str | None, dict[str, list[tuple[str, str]]]]:
    """The recorded revision and every table's columns with their types."""

    def read(connection: Connection) -> tuple[str | None, dict[str, list[tuple[str, str]]]]:
        revision = MigrationContext.configure(connection).get_current_revision()
        inspector = inspect(connection)
        tables = {
            table: [
                (column["name"], str(column["type"])) for column in inspector.get_columns(table)
            ]
            for table in inspector.get_table_names()
        }
        return revision, tables

    async with engine.connect() as connection:
        return await connection.run_sync(read)


async def test_upgrade_to_head_creates_exactly_the_tables_of_the_models(
    schema: ServiceSchema, database: str, engine: AsyncEngine
) -> None:
    await upgrade_async(database, schema.migrations)

    revision, tables = await state(engine)
    assert revision == schema.head(database)
    assert set(tables) == set(schema.metadata.tables) | {"alembic_version"}
    assert await differences(engine, schema.metadata) == []


async def test_upgrading_a_database_already_at_head_changes_nothing(
    schema: ServiceSchema, database: str, engine: AsyncEngine
) -> None:
    await upgrade_async(database, schema.migrations)
    outbox = schema.metadata.tables["outbox_events"]
    async with engine.begin() as connection:
        await connection.execute(
            outbox.insert().values(
                event_id="0193a1d2-0000-7000-8000-000000000001",
                event_type="yts.test.v1",
                subject="yts.test.v1",
                headers="{}",
                body=b"{}",
                created_at=datetime.now(UTC),
            )
        )
    before = await state(engine)

    await upgrade_async(database, schema.migrations)

    assert await state(engine) == before
    async with engine.connect() as connection:
        rows = (await connection.execute(outbox.select())).all()
    assert len(rows) == 1, "a second upgrade lost the data already stored"


async def test_downgrade_to_base_then_upgrade_to_head_rebuilds_the_schema(
    schema: ServiceSchema, database: str, engine: AsyncEngine
) -> None:
    await upgrade_async(database, schema.migrations)

    await downgrade(database, schema.migrations, "base")
    revision, tables = await state(engine)
    assert revision is None
    assert set(tables) <= {"alembic_version"}, "downgrade to base left tables behind"

    await upgrade_async(database, schema.migrations)
    revision, tables = await state(engine)
    assert revision == schema.head(database)
    assert set(tables) == set(schema.metadata.tables) | {"alembic_version"}
    assert await differences(engine, schema.metadata) == []
