"""A service decides who may call it only from a complete copy of the access bucket: before it
has loaded one (here: the bucket is not provisioned yet), a bearer other than the bootstrap
admin gets a 503 problem (transient, with Retry-After), never a guessed 200 or 401; once the
bucket exists the service follows it without a restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import nats
import pytest
from yts_chassis.access import Role
from yts_deploy.natsserver import NatsServer
from yts_deploy.provision import provision
from yts_enrolment.main import create_app
from yts_enrolment.settings import EnrolmentSettings

from tests.support.access import token_for
from tests.support.services import ADMIN_TOKEN, eventually, running, settings_for


@pytest.fixture
def bare_nats(tmp_path: Path) -> Iterator[str]:
    """A nats-server with JetStream and nothing provisioned: no streams, no access bucket."""
    with NatsServer(store_dir=tmp_path / "nats", name="access-loading") as server:
        yield server.url


async def test_before_the_access_bucket_has_loaded_a_token_gets_a_503_not_a_guess(
    bare_nats: str, database_factory
) -> None:
    settings = settings_for(
        EnrolmentSettings,
        nats_url=bare_nats,
        database_url=await database_factory("enrolment_access"),
        access_load_wait_seconds=0.2,
    )
    app = create_app(settings)
    async with running(app, token=None) as client:
        waiting = await client.get("/v1/cohorts", headers={"Authorization": "Bearer yts_unknown"})
        assert waiting.status_code == 503
        assert waiting.headers["content-type"] == "application/problem+json"
        assert waiting.headers["retry-after"] == "1"
        assert waiting.json()["title"] == "Access data not loaded yet"
        assert (await client.get("/readyz")).json()["checks"]["access"] == "down"
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        assert (await client.get("/v1/cohorts", headers=admin)).status_code == 200

        # Provisioned while the service runs: its subscriber may bind a stream the moment it
        # exists and make its durable consumer before provisioning does (drift this test does
        # not judge; compose provisions before any service starts).
        nc = await nats.connect(bare_nats)
        try:
            await provision(nc.jetstream())
        finally:
            await nc.close()
        staff = await token_for(bare_nats, Role.admin)

        async def answered() -> httpx.Response | None:
            response = await client.get("/v1/cohorts", headers={"Authorization": f"Bearer {staff}"})
            return response if response.status_code != 503 else None

        assert (await eventually(answered, timeout=30)).status_code == 200
        assert (await client.get("/readyz")).json()["checks"]["access"] == "ok"
