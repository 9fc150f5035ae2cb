from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from yts_deploy.natsserver import NatsServer
from yts_reporting.main import create_app
from yts_reporting.settings import ReportingSettings

from tests.support.broker import provisioned_server
from tests.support.services import settings_for


def reporting_settings(nats_url: str, database_url: str, **overrides: Any) -> ReportingSettings:
    overrides.setdefault("rebuild_retire_after_seconds", 0.0)
    settings: ReportingSettings = settings_for(
        ReportingSettings, nats_url=nats_url, database_url=database_url, **overrides
    )
    return settings


def reporting_app(nats_url: str, database_url: str, **overrides: Any) -> FastAPI:
    return create_app(reporting_settings(nats_url, database_url, **overrides))


@pytest.fixture(scope="module")
def own_nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A nats-server of this test module alone, provisioned like production: the module's
    events are the only ones in its streams, so totals are exact."""
    store = tmp_path_factory.mktemp("reporting-nats")
    with NatsServer(store_dir=store, name="reporting") as server:
        yield server.url


@pytest.fixture(scope="module")
async def own_nats(own_nats_url: str) -> str:
    return await provisioned_server(own_nats_url)
