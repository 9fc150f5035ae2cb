from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import nats
import pytest
from yts_sessions.main import create_app
from yts_sessions.settings import SessionsSettings

from tests.support.services import running, settings_for
from tests.support.sessions_roster import Enrolment, skip_roster_backlog

StartSessions = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture(scope="module")
def start_sessions(provisioned: str, database_factory) -> StartSessions:
    """``async with start_sessions(**settings) as client``: the sessions app on the session's
    nats-server and a fresh database. One at a time: apps share the roster's durable consumer."""

    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        nc = await nats.connect(provisioned)
        try:
            await skip_roster_backlog(nc.jetstream())
        finally:
            await nc.close()
        settings = settings_for(
            SessionsSettings,
            nats_url=provisioned,
            database_url=await database_factory("sessions"),
            **overrides,
        )
        app = create_app(settings)
        async with running(app) as client:
            client.app = app  # type: ignore[attr-defined]
            yield client

    return start


@pytest.fixture(scope="module")
async def sessions(start_sessions: StartSessions) -> AsyncIterator[httpx.AsyncClient]:
    """One sessions app for the whole module (tests use schools and trainers of their own)."""
    async with start_sessions() as client:
        yield client


@pytest.fixture
def enrolment_events(js) -> Enrolment:
    return Enrolment(js)
