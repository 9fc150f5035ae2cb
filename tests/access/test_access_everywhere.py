"""Access decided alike on every service, from the access bucket in NATS: `yts up`'s system as
real processes, each service as its own NATS user. A static token revoked with
`yts tokens revoke`, or a person's session ended, is refused by two different services within a
bounded wait, without a restart; an expired token is refused; a person's signed token is taken
by both; a service may read the bucket and never write it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import httpx
import pytest
from nats.js.client import JetStreamContext
from typer.testing import CliRunner
from yts_chassis.access import (
    IssuedToken,
    Role,
    SigningKey,
    StaticTokens,
    publish_signing_key,
    revoke_person,
    revoke_session,
)
from yts_deploy.cli import app
from yts_deploy.natsconfig import PROVISIONER, admin_connect, inbox_prefix
from yts_deploy.runner import LocalSystem

from tests.support.deploy_nats import connected
from tests.support.local_system import running_local_system
from tests.support.services import eventually_sync

T = TypeVar("T")

# A route of each of two services that any staff member may read: enrolment's cohorts and
# sessions' curriculum.
READS = {"enrolment": "/v1/cohorts", "sessions": "/v1/modules"}


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSystem]:
    with running_local_system(tmp_path_factory.mktemp("access-system")) as system:
        yield system


def yts_tokens(system: LocalSystem, *args: str) -> str:
    result = CliRunner().invoke(app, ["tokens", *args, "--state-dir", str(system.state_dir)])
    assert result.exit_code == 0, result.output
    return result.output


def answers(system: LocalSystem, token: str) -> dict[str, tuple[int, str]]:
    """What each service answers the token: the status, and the problem's title if any."""
    seen = {}
    for service, path in READS.items():
        response = httpx.get(
            system.services[service].url + path,
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json"
        seen[service] = (
            response.status_code,
            response.json().get("title", "") if response.status_code >= 400 else "",
        )
    return seen


def everywhere(status: int, title: str = "") -> dict[str, tuple[int, str]]:
    return {service: (status, title) for service in READS}


def as_operator(system: LocalSystem, action: Callable[[JetStreamContext], Awaitable[T]]) -> T:
    """Run ``action(js)`` connected as the operator's (provisioner) NATS user."""

    async def run() -> T:
        assert system.nats is not None
        nc = await admin_connect(system.nats.url, PROVISIONER, system.nats_passwords[PROVISIONER])
        try:
            return await action(nc.jetstream())
        finally:
            await nc.close()

    return asyncio.run(run())


def test_a_token_revoked_with_yts_tokens_revoke_is_refused_by_every_service_at_once(
    system: LocalSystem,
) -> None:
    school = str(uuid.uuid4())
    output = yts_tokens(
        system, "create", "--role", "coordinator", "--school", school,
        "--label", "deputy of No. 12", "--no-check-school",
    )  # fmt: skip
    token = output.strip().splitlines()[-1]
    assert answers(system, token) == everywhere(200)

    yts_tokens(system, "revoke", "deputy of No. 12")
    eventually_sync(lambda: answers(system, token) == everywhere(401, "Token revoked"))


def test_an_expired_token_is_refused_by_every_service(system: LocalSystem) -> None:
    async def expired_yesterday(js: JetStreamContext) -> IssuedToken:
        made = datetime.now(UTC) - timedelta(days=31)
        tokens = await StaticTokens.of(js)
        return await tokens.create(
            Role.admin, "a script of last month", expires_in=timedelta(days=30), now=made
        )

    issued = as_operator(system, expired_yesterday)
    assert answers(system, issued.token) == everywhere(401, "Token expired")
    listed = yts_tokens(system, "list")
    [line] = [line for line in listed.splitlines() if "a script of last month" in line]
    assert "expired" in line
    assert issued.token not in listed


def test_a_coordinator_token_stays_within_its_school_and_role(system: LocalSystem) -> None:
    school, other = uuid.uuid4(), uuid.uuid4()
    output = yts_tokens(
        system, "create", "--role", "coordinator", "--school", str(school),
        "--label", "deputy of No. 7", "--no-check-school",
    )  # fmt: skip
    bearer = {"Authorization": f"Bearer {output.strip().splitlines()[-1]}"}
    enrolment = system.services["enrolment"].url
    assert (
        httpx.get(f"{enrolment}/v1/trainers?school_id={other}", headers=bearer).status_code == 403
    )
    assert httpx.post(f"{enrolment}/v1/cohorts", json={}, headers=bearer).status_code == 403


# -- people ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def signing_key(system: LocalSystem) -> SigningKey:
    """The issuer's key (the workspace's, to come), its public half published."""
    key = SigningKey.generate()
    as_operator(system, lambda js: publish_signing_key(js, key))
    return key


def person_token(
    key: SigningKey, person: uuid.UUID, session: str, role: Role = Role.admin, **more: object
) -> str:
    return key.mint(person_id=person, role=role, session_id=session, **more)  # type: ignore[arg-type]


def test_a_persons_signed_token_is_taken_by_every_service(
    system: LocalSystem, signing_key: SigningKey
) -> None:
    token = person_token(signing_key, uuid.uuid4(), "session-taken")
    assert answers(system, token) == everywhere(200)


def test_an_expired_or_tampered_signed_token_is_refused_by_every_service(
    system: LocalSystem, signing_key: SigningKey
) -> None:
    person = uuid.uuid4()
    expired = person_token(
        signing_key, person, "session-old", now=datetime.now(UTC) - timedelta(minutes=10)
    )
    assert answers(system, expired) == everywhere(401, "Sign-in expired")
    header, _, signature = person_token(signing_key, person, "session-x").split(".")
    other = person_token(signing_key, uuid.uuid4(), "session-y").split(".")[1]
    assert answers(system, f"{header}.{other}.{signature}") == everywhere(
        401, "Invalid access token"
    )


def test_a_coordinators_signed_token_stays_within_its_school(
    system: LocalSystem, signing_key: SigningKey
) -> None:
    token = person_token(
        signing_key, uuid.uuid4(), "session-school", Role.coordinator, school_id=uuid.uuid4()
    )
    bearer = {"Authorization": f"Bearer {token}"}
    enrolment = system.services["enrolment"].url
    foreign = httpx.get(f"{enrolment}/v1/trainers?school_id={uuid.uuid4()}", headers=bearer)
    assert foreign.status_code == 403
    assert httpx.post(f"{enrolment}/v1/schools", json={}, headers=bearer).status_code == 403


def test_signing_out_or_revoking_a_person_ends_their_access_on_every_service_at_once(
    system: LocalSystem, signing_key: SigningKey
) -> None:
    person = uuid.uuid4()
    phone = person_token(signing_key, person, "session-phone")
    laptop = person_token(signing_key, person, "session-laptop")
    assert answers(system, phone) == everywhere(200)

    as_operator(system, lambda js: revoke_session(js, "session-phone"))
    eventually_sync(lambda: answers(system, phone) == everywhere(401, "Signed out"))
    assert answers(system, laptop) == everywhere(200)

    as_operator(system, lambda js: revoke_person(js, person))
    eventually_sync(lambda: answers(system, laptop) == everywhere(401, "Access revoked"))


# -- who may write ----------------------------------------------------------------------------


async def test_a_service_reads_the_access_bucket_and_may_not_write_it(
    system: LocalSystem,
) -> None:
    assert system.nats is not None
    password = system.nats_passwords["sessions"]
    async with connected(system.nats.url, "sessions", password, inbox_prefix("sessions")) as svc:
        kv = await svc.js.key_value("yts-access")
        watcher = await kv.watchall()  # as its chassis follows the bucket
        await watcher.updates(timeout=5)
        await watcher.stop()
        assert svc.violations() == []
        for key in ("token.forged", "key.forged", "session.someone"):
            await svc.refuses(f"$KV.yts-access.{key}", kv.put, key, b"{}")


# -- after NATS comes back ------------------------------------------------------------------
# Last in the module: it kills and restarts the system's nats-server.


def test_a_revocation_after_nats_restarted_still_reaches_every_service(
    system: LocalSystem,
) -> None:
    output = yts_tokens(
        system, "create", "--role", "admin", "--label", "a script that outlives a restart"
    )
    token = output.strip().splitlines()[-1]
    assert answers(system, token) == everywhere(200)

    system.restart_nats()  # SIGKILL: every service's watch loses its consumer
    eventually_sync(lambda: _revoked(system, "a script that outlives a restart"), timeout=30)
    eventually_sync(lambda: answers(system, token) == everywhere(401, "Token revoked"), timeout=60)


def _revoked(system: LocalSystem, label: str) -> bool:
    """`yts tokens revoke`, once NATS answers again."""
    result = CliRunner().invoke(
        app, ["tokens", "revoke", label, "--state-dir", str(system.state_dir)]
    )
    return result.exit_code == 0
