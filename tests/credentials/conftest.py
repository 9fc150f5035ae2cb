from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import httpx
import nats
import pytest
from nats.aio.client import Client as NatsClient
from yts_deploy.natsserver import NatsServer

from tests.support.broker import provisioned_server
from tests.support.credentials import Facts, credentials_app
from tests.support.services import running


@pytest.fixture(scope="module")
def credentials_nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A nats-server of this module alone: its streams hold this module's facts only."""
    with NatsServer(store_dir=tmp_path_factory.mktemp("credentials-nats"), name="cred") as server:
        yield server.url


@pytest.fixture(scope="module")
async def credentials_nats(credentials_nats_url: str) -> str:
    return await provisioned_server(credentials_nats_url)


@pytest.fixture(scope="module")
def issuer_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("credentials-state")


StartCredentials = Callable[[str], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture(scope="module")
def start_credentials(
    credentials_nats: str, database_factory, issuer_state: Path
) -> StartCredentials:
    """``async with start_credentials(public_url) as client``: the credentials app on this
    module's nats-server, a fresh database and the module's issuer key."""

    @asynccontextmanager
    async def start(public_url: str) -> AsyncIterator[httpx.AsyncClient]:
        database = await database_factory("credentials")
        app = credentials_app(credentials_nats, database, issuer_state, public_url=public_url)
        async with running(app) as client:
            yield client

    return start


@pytest.fixture(scope="module")
async def credentials(start_credentials: StartCredentials) -> AsyncIterator[httpx.AsyncClient]:
    """The credentials app for the whole module, published under http://service."""
    async with start_credentials("http://service") as client:
        yield client


@pytest.fixture
async def module_nc(credentials_nats: str) -> AsyncIterator[NatsClient]:
    client = await nats.connect(credentials_nats)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def facts(module_nc: NatsClient) -> Facts:
    return Facts(module_nc.jetstream())
