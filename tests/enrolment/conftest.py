from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from yts_enrolment.main import create_app
from yts_enrolment.settings import EnrolmentSettings

from tests.support.services import running, settings_for


@pytest.fixture
async def enrolment(provisioned: str, database_factory) -> AsyncIterator[httpx.AsyncClient]:
    url = await database_factory("enrolment")
    app = create_app(settings_for(EnrolmentSettings, nats_url=provisioned, database_url=url))
    async with running(app) as client:
        client.app = app  # type: ignore[attr-defined]
        yield client
