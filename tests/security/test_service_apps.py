"""The four services' real apps, each connected as its own NATS user of deploy/nats, do their
whole job: enrolment publishes through its outbox, sessions keeps its roster and publishes a
module completion, notifications and reporting consume every stream they are bound to, and
reporting counts the trainer. A missing permission would leave an event unpublished or a
consumer behind. Then the reporting rebuild, as its own user, replays what the streams hold."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from yts_credentials.main import create_app as credentials_app
from yts_credentials.settings import CredentialsSettings
from yts_deploy.demo import indicator_value
from yts_deploy.natsconfig import PROVISIONER, REBUILDER, SERVICE_USERS, inbox_prefix
from yts_deploy.topology import SERVICE_CONSUMERS
from yts_enrolment.main import create_app as enrolment_app
from yts_enrolment.settings import EnrolmentSettings
from yts_notifications.main import create_app as notifications_app
from yts_notifications.settings import NotificationsSettings
from yts_reporting.main import create_app as reporting_app
from yts_reporting.replay import rebuild
from yts_reporting.settings import ReportingSettings
from yts_sessions.main import create_app as sessions_app
from yts_sessions.settings import SessionsSettings

from tests.support.deploy_nats import (
    SecuredNats,
    as_platform_user,
    provision_as_provisioner,
    start_secured,
)
from tests.support.enrolment_api import COHORT, SCHOOL, trainer
from tests.support.services import eventually, running, settings_for

APPS: dict[str, tuple[Any, type[Any]]] = {
    "enrolment": (enrolment_app, EnrolmentSettings),
    "sessions": (sessions_app, SessionsSettings),
    "notifications": (notifications_app, NotificationsSettings),
    "reporting": (reporting_app, ReportingSettings),
    "credentials": (credentials_app, CredentialsSettings),
}


@pytest.fixture
async def secured(tmp_path: Path) -> AsyncIterator[SecuredNats]:
    nats_server = start_secured(tmp_path / "nats", "yts-service-apps")
    try:
        await provision_as_provisioner(nats_server)
        yield nats_server
    finally:
        nats_server.server.stop()


DATABASES: dict[str, str] = {}


@pytest.fixture
async def services(
    secured: SecuredNats, database_factory: Any
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    async with AsyncExitStack() as stack:
        clients: dict[str, httpx.AsyncClient] = {}
        for name in SERVICE_USERS:
            create_app, settings_type = APPS[name]
            DATABASES[name] = await database_factory(f"{name}-secured")
            settings = settings_for(
                settings_type,
                nats_url=secured.url,
                database_url=DATABASES[name],
                nats_user=name,
                nats_password=secured.passwords[name],
                nats_inbox_prefix=inbox_prefix(name),
            )
            clients[name] = await stack.enter_async_context(running(create_app(settings)))
        yield clients


async def all_caught_up(secured: SecuredNats) -> list[str]:
    """The durable consumers that have not yet acknowledged every message of their stream."""
    behind = []
    async with as_platform_user(secured, PROVISIONER) as admin:
        js = admin.nc.jetstream()
        for consumer in SERVICE_CONSUMERS:
            info = await js.consumer_info(consumer.stream, consumer.durable)
            last = (await js.stream_info(consumer.stream)).state.last_seq
            if info.num_pending or info.num_ack_pending or info.ack_floor.stream_seq < last:
                behind.append(f"{consumer.durable} at {info.ack_floor.stream_seq}/{last}")
    return behind


async def test_every_service_does_its_job_as_its_own_nats_user(
    secured: SecuredNats, services: dict[str, httpx.AsyncClient]
) -> None:
    for client in services.values():
        await eventually(partial(_ready, client), timeout=20)
    enrolment, sessions, reporting = (
        services["enrolment"],
        services["sessions"],
        services["reporting"],
    )
    school = await enrolment.post("/v1/schools", json=SCHOOL)
    cohort = await enrolment.post("/v1/cohorts", json=COHORT)
    assert school.status_code == cohort.status_code == 201, (school.text, cohort.text)
    enrolled = await enrolment.post(
        "/v1/trainers", json=trainer(school.json()["id"], cohort.json()["id"])
    )
    assert enrolled.status_code == 201, enrolled.text
    trainer_id = enrolled.json()["id"]

    # sessions learnt of the trainer from enrolment's events, then publishes its own.
    await eventually(
        lambda: _status(sessions, f"/v1/trainers/{trainer_id}/progress", 200), timeout=20
    )
    module = (await sessions.get("/v1/modules")).json()[0]["id"]
    completion = await sessions.post(
        f"/v1/trainers/{trainer_id}/module-completions", json={"module_id": module}
    )
    assert completion.status_code in (200, 201), completion.text

    indicators = await eventually(lambda: _indicators(reporting), timeout=20)
    assert indicator_value(indicators, "trainers_enrolled") == 1
    assert await eventually(lambda: _none_behind(secured), timeout=45)
    async with as_platform_user(secured, PROVISIONER) as admin:
        js = admin.nc.jetstream()
        assert (await js.stream_info("YTS_ENROLMENT")).state.messages == 3
        assert (await js.stream_info("YTS_PRIVATE")).state.messages == 1
        assert (await js.stream_info("YTS_SESSIONS")).state.messages >= 1
        assert (await js.stream_info("YTS_DLQ")).state.messages == 0
        public_events = 0
        for name in ("YTS_ENROLMENT", "YTS_SESSIONS", "YTS_MILESTONES"):
            public_events += (await js.stream_info(name)).state.messages

    # `yts reporting rebuild` replays the public streams as its own user, beside the service.
    rebuilt = await rebuild(
        settings_for(
            ReportingSettings,
            nats_url=secured.url,
            database_url=DATABASES["reporting"],
            nats_user=REBUILDER,
            nats_password=secured.passwords[REBUILDER],
            nats_inbox_prefix=inbox_prefix(REBUILDER),
        ),
        retire_after=0,
    )
    assert rebuilt.events == public_events
    assert indicator_value((await reporting.get("/v1/indicators")).json(), "trainers_enrolled") == 1


async def _ready(client: httpx.AsyncClient) -> bool:
    response = await client.get("/readyz")
    return response.status_code == 200 and response.json().get("outbox_pending", 0) == 0


async def _status(client: httpx.AsyncClient, path: str, status: int) -> bool:
    return (await client.get(path)).status_code == status


async def _indicators(client: httpx.AsyncClient) -> dict[str, Any] | None:
    body: dict[str, Any] = (await client.get("/v1/indicators")).json()
    return body if indicator_value(body, "trainers_enrolled") == 1 else None


async def _none_behind(secured: SecuredNats) -> bool:
    return not await all_caught_up(secured)
