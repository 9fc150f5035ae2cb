"""Issue 11: ``POST /v1/sessions`` sent twice made two sessions. With one ``Idempotency-Key`` the
retry gets the first answer again (``Idempotent-Replayed: true``) and nothing is created or
staged twice; without a key, or with another token's key, every request creates."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import nats
import pytest

from tests.support.sessions_roster import (
    CORE_MODULES,
    MODULE_COMPLETED,
    Enrolment,
    School,
    certify,
    coordinator_token,
    plan,
    school_with_trainers,
    staged,
)

KEY = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"


@dataclass(frozen=True)
class Cast:
    school: School
    certified: list[uuid.UUID]
    uncertified: uuid.UUID


@pytest.fixture(scope="module")
async def cast(sessions: httpx.AsyncClient, provisioned: str) -> AsyncIterator[Cast]:
    nc = await nats.connect(provisioned)
    try:
        school = await school_with_trainers(Enrolment(nc.jetstream()), sessions, trainers=3)
        *certified, uncertified = school.trainers
        for trainer_id in certified:
            await certify(sessions, trainer_id)
        yield Cast(school, certified, uncertified)
    finally:
        await nc.close()


async def sessions_of(client: httpx.AsyncClient, school: School) -> list[str]:
    listed = await client.get("/v1/sessions", params={"school_id": str(school.id), "limit": 500})
    assert listed.status_code == 200, listed.text
    return [s["id"] for s in listed.json()["items"]]


def key() -> dict[str, str]:
    return {KEY: str(uuid.uuid4())}


async def test_a_peer_session_posted_twice_with_one_key_is_planned_once(
    sessions: httpx.AsyncClient, cast: Cast
) -> None:
    before = await sessions_of(sessions, cast.school)
    headers = key()
    body = plan(cast.school.id, cast.certified[:1])

    first = await sessions.post("/v1/sessions", json=body, headers=headers)
    again = await sessions.post("/v1/sessions", json=body, headers=headers)

    assert first.status_code == again.status_code == 201, again.text
    assert again.content == first.content
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.headers[REPLAYED] == "true"
    assert REPLAYED not in first.headers
    assert await sessions_of(sessions, cast.school) == [*before, first.json()["id"]]


async def test_the_key_of_one_session_sent_with_another_plan_is_refused(
    sessions: httpx.AsyncClient, cast: Cast
) -> None:
    headers = key()
    first = await sessions.post(
        "/v1/sessions", json=plan(cast.school.id, cast.certified[:1]), headers=headers
    )
    before = await sessions_of(sessions, cast.school)

    other = await sessions.post(
        "/v1/sessions", json=plan(cast.school.id, cast.certified[:2]), headers=headers
    )

    assert first.status_code == 201, first.text
    assert other.status_code == 422, other.text
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["errors"][0]["field"] == f"header.{KEY}"
    assert await sessions_of(sessions, cast.school) == before


async def test_without_a_key_two_posts_plan_two_sessions(
    sessions: httpx.AsyncClient, cast: Cast
) -> None:
    before = await sessions_of(sessions, cast.school)
    body = plan(cast.school.id, cast.certified[:1])

    created = [await sessions.post("/v1/sessions", json=body) for _ in range(2)]

    assert [r.status_code for r in created] == [201, 201]
    assert len(await sessions_of(sessions, cast.school)) == len(before) + 2


async def test_the_same_key_from_two_tokens_plans_one_session_for_each(
    sessions: httpx.AsyncClient, cast: Cast, provisioned: str
) -> None:
    before = await sessions_of(sessions, cast.school)
    headers = key()
    coordinator = {**headers, **(await coordinator_token(provisioned, cast.school.id))}
    body = plan(cast.school.id, cast.certified[:1])

    by_admin = await sessions.post("/v1/sessions", json=body, headers=headers)
    by_coordinator = await sessions.post("/v1/sessions", json=body, headers=coordinator)
    again_by_coordinator = await sessions.post("/v1/sessions", json=body, headers=coordinator)

    assert by_admin.status_code == by_coordinator.status_code == 201
    assert REPLAYED not in by_coordinator.headers
    assert by_admin.json()["id"] != by_coordinator.json()["id"]
    assert again_by_coordinator.content == by_coordinator.content
    assert len(await sessions_of(sessions, cast.school)) == len(before) + 2


async def test_a_refused_plan_is_replayed_as_it_was_answered(
    sessions: httpx.AsyncClient, cast: Cast
) -> None:
    headers = key()
    body = plan(cast.school.id, [cast.uncertified])

    refused = await sessions.post("/v1/sessions", json=body, headers=headers)
    again = await sessions.post("/v1/sessions", json=body, headers=headers)

    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["rule"] == "certified"
    assert again.status_code == 422
    assert again.content == refused.content
    assert again.headers[REPLAYED] == "true"


async def test_a_module_completion_posted_twice_with_one_key_is_recorded_and_staged_once(
    sessions: httpx.AsyncClient, cast: Cast
) -> None:
    path = f"/v1/trainers/{cast.uncertified}/module-completions"
    body = {"module_id": CORE_MODULES[0]}
    headers = key()

    first = await sessions.post(path, json=body, headers=headers)
    again = await sessions.post(path, json=body, headers=headers)

    # Without the key the retry would be a 409: the module is completed once.
    assert first.status_code == again.status_code == 201, again.text
    assert again.content == first.content
    assert again.headers[REPLAYED] == "true"
    events = [
        e
        for e in await staged(sessions, MODULE_COMPLETED)
        if e.data["trainer_id"] == str(cast.uncertified)
    ]
    assert len(events) == 1
