"""Fresh PostgreSQL databases for tests (created and dropped through asyncpg)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import asyncpg


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://").replace(
        "postgresql+psycopg2://", "postgresql://"
    )


def async_url(admin_url: str, database: str) -> str:
    parts = urlsplit(_plain(admin_url))
    return urlunsplit(parts._replace(scheme="postgresql+asyncpg", path=f"/{database}"))


async def create_database(admin_url: str, database: str) -> None:
    conn = await asyncpg.connect(_plain(admin_url))
    try:
        await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()


async def drop_database(admin_url: str, database: str) -> None:
    conn = await asyncpg.connect(_plain(admin_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await conn.close()
