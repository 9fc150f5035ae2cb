from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from yts_deploy.natsserver import NatsServer
from yts_reporting.main import create_app
from yts_reporting.settings import ReportingSettings

from tests.support.broker import provisioned_server
from tests.support.services import running, settings_for


def reporting_settings(nats_url: str, database_url: str, **overrides: Any) -> ReportingSettings:
    overrides.setdefault("rebuild_retire_after_seconds", 0.0)
    settings: ReportingSettings = settings_for(
        ReportingSettings, nats_url=nats_url, database_url=database_url, **overrides
    )
    return settings


def reporting_app(nats_url: str, database_url: str, **overrides: Any) -> FastAPI:
    return create_app(reporting_settings(nats_url, database_url, **overrides))


@pytest.fixture
async def reporting(provisioned: str, database_factory) -> AsyncIterator[httpx.AsyncClient]:
    """The reporting app on the session's nats-server (its durable consumers are shared with
    other tests: assert on what the test itself published, e.g. filtered by its school)."""
    url = await database_factory("reporting")
    app = reporting_app(provisioned, url)
    async with running(app) as client:
        client.app = app  # type: ignore[attr-defined]
        yield client


@pytest.fixture(scope="module")
def own_nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A nats-server of this test module alone, provisioned like production: the module's
    events are the only ones in its streams, so totals are exact."""
    server = NatsServer(store_dir=tmp_path_factory.mktemp("reporting-nats"), name="reporting")
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="module")
async def own_nats(own_nats_url: str) -> str:
    return await provisioned_server(own_nats_url)


@pytest.fixture
def tokens_file(tmp_path: Path) -> Path:
    return tmp_path / "tokens.json"
