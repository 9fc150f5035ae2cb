"""Alembic wiring: each service keeps its scripts in ``<service>/migrations`` and calls
``run_env`` from its ``env.py``; services upgrade to head at start-up."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

# Replicas of a service that start together must not migrate together: on a fresh database each
# would create the tables, and all but one fail ("duplicate key ... pg_type_typname_nsp_index").
_MIGRATION_LOCK_KEY = 0x5954_534D  # "YTSM"; the outbox relay's is "YTS0"


def alembic_config(database_url: str, script_location: Path) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, script_location: Path, revision: str = "head") -> None:
    """Blocking: run it in a worker thread (env.py runs its own event loop)."""
    command.upgrade(alembic_config(database_url, script_location), revision)


async def upgrade_async(database_url: str, script_location: Path, revision: str = "head") -> None:
    if database_url.startswith("sqlite+aiosqlite:///"):
        path = database_url.removeprefix("sqlite+aiosqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(upgrade, database_url, script_location, revision)


def run_env(target_metadata: MetaData) -> None:
    """The body of every service's ``migrations/env.py``."""
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url is not set"
    is_sqlite = url.startswith("sqlite")

    def configure(connection: Connection | None = None) -> None:
        context.configure(
            connection=connection,
            url=None if connection is not None else url,
            target_metadata=target_metadata,
            render_as_batch=is_sqlite,  # SQLite alters tables by copying them
            compare_type=True,
            literal_binds=connection is None,
        )

    if context.is_offline_mode():
        configure()
        with context.begin_transaction():
            context.run_migrations()
        return

    def run(connection: Connection) -> None:
        if connection.dialect.name == "postgresql":
            # Held until the migration's transaction commits: the next replica then finds the
            # database at head. Taken first, so Alembic runs inside this transaction.
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
            )
        configure(connection)
        with context.begin_transaction():
            context.run_migrations()

    async def online() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(run)
            await connection.commit()
        await engine.dispose()

    asyncio.run(online())
