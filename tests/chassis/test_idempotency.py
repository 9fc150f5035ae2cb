"""``Idempotency-Key`` on creates, in an app built by the chassis on a real database: a retry
with the same key replays the first answer byte for byte and creates nothing twice; the same
key with another request is refused; keys belong to one bearer token; 4xx answers are kept and
5xx ones are not; a key in progress is a 409; a create that committed without its response
being kept is never run again; expired keys are swept. Then the same on enrolment's real app,
and every create of every service documents the header."""

from __future__ import annotations

import asyncio
import importlib
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import func, select
from yts_chassis.auth import Principal, Role, require_roles
from yts_chassis.errors import Problem
from yts_chassis.idempotency import idempotent_create
from yts_chassis.service import ServiceRuntime
from yts_chassis.settings import ServiceSettings
from yts_contracts.enrolment import SchoolRegistered
from yts_contracts.private import SchoolContact

from tests.chassis.rig import applied_table, count, fresh_database, messaging
from tests.support.access import known_to
from tests.support.enrolment_api import SCHOOL, setup_school_and_cohort, trainer
from tests.support.services import ADMIN_TOKEN, running, settings_for

KEY = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
SERVICES = {
    "enrolment": "EnrolmentSettings",
    "sessions": "SessionsSettings",
    "notifications": "NotificationsSettings",
    "reporting": "ReportingSettings",
}
Admin = Annotated[Principal, Depends(require_roles(Role.admin))]


class SchoolIn(BaseModel):
    name: str


@dataclass
class Rig:
    """A chassis app with one create route, ``POST /v1/schools``, that writes a row and an
    outbox event in one transaction, and what the route did."""

    runtime: ServiceRuntime
    admin: httpx.AsyncClient
    other: httpx.AsyncClient  # another admin token
    calls: list[str] = field(default_factory=list)
    # name -> how many more times the route fails for it (raises, or answers 503)
    raising: dict[str, int] = field(default_factory=dict)
    unavailable: dict[str, int] = field(default_factory=dict)
    gates: dict[str, asyncio.Event] = field(default_factory=dict)
    entered: dict[str, asyncio.Event] = field(default_factory=dict)

    async def rows(self) -> int:
        return await count(self.runtime.db, applied_table)

    async def events(self) -> int:
        return await count(self.runtime.db, messaging.outbox)

    async def keys(self) -> int:
        return await count(self.runtime.db, messaging.idempotency)

    def clock_ahead(self, delta: timedelta) -> None:
        self.runtime.idempotency.clock = lambda: datetime.now(UTC) + delta

    async def held_create(
        self, name: str, headers: dict[str, str]
    ) -> tuple[asyncio.Task[httpx.Response], asyncio.Event]:
        """Start registering ``name``; returns once the route is running, with the request and
        the gate that lets the route go on."""
        gate = self.gates[name] = asyncio.Event()
        entered = self.entered[name] = asyncio.Event()
        request = asyncio.create_task(
            self.admin.post("/v1/schools", json={"name": name}, headers=headers)
        )
        await asyncio.wait_for(entered.wait(), 10)
        return request, gate


def schools_router(rig: Callable[[], Rig]) -> APIRouter:
    router = APIRouter()

    @router.post("/v1/schools", status_code=201, **idempotent_create())
    async def register(body: SchoolIn, response: Response, _: Admin) -> Any:
        state = rig()
        state.calls.append(body.name)
        if body.name in state.gates:
            state.entered[body.name].set()
            await state.gates[body.name].wait()
        if state.raising.get(body.name, 0) > 0:
            state.raising[body.name] -= 1
            raise RuntimeError("the route failed before writing")
        if state.unavailable.get(body.name, 0) > 0:
            state.unavailable[body.name] -= 1
            return JSONResponse({"detail": "try later"}, status_code=503)
        if body.name == "taken":
            raise Problem.conflict("name", "unique", "a school with this name exists")
        school_id = uuid.uuid4()
        async with state.runtime.db.transaction() as session:
            position = await session.execute(select(func.count()).select_from(applied_table))
            await session.execute(
                applied_table.insert().values(
                    event_id=str(school_id),
                    school_name=body.name,
                    position=int(position.scalar_one()),
                )
            )
            await state.runtime.outbox.add(
                session,
                SchoolRegistered(
                    school_id=school_id,
                    name=body.name,
                    district="Almaly",
                    languages=["kk"],
                    registered_at=datetime.now(UTC),
                ),
            )
        if body.name == "crash after commit":
            raise RuntimeError("the service stopped before the response was kept")
        response.headers["Location"] = f"/v1/schools/{school_id}"
        return {"id": str(school_id), "name": body.name}

    return router


@asynccontextmanager
async def chassis_app(database_url: str, *, share_database: bool = False) -> AsyncIterator[Rig]:
    """An app built by ``ServiceRuntime.create_app`` without its lifespan (no NATS needed):
    the outbox only fills. ``share_database`` keeps the tables another app created."""
    if not share_database:
        await (await fresh_database(database_url)).dispose()
    settings = ServiceSettings(
        service_name="tests",
        database_url=database_url,
        admin_token=ADMIN_TOKEN,
    )
    runtime = ServiceRuntime(settings, messaging, Path("unused"), configure_logs=False)
    other_token = known_to(runtime.access, Role.admin, "another admin")
    state: list[Rig] = []
    app = runtime.create_app(
        title="tests", description="idempotent creates", routers=[schools_router(lambda: state[0])]
    )
    # A route that raises answers 500, as under a server, instead of raising in the test.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        httpx.AsyncClient(
            transport=transport,
            base_url="http://service",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        ) as admin,
        httpx.AsyncClient(
            transport=transport,
            base_url="http://service",
            headers={"Authorization": f"Bearer {other_token}"},
        ) as other,
    ):
        state.append(Rig(runtime, admin, other))
        yield state[0]
    await runtime.db.dispose()


@pytest.fixture
async def rig(database_factory: Any) -> AsyncIterator[Rig]:
    async with chassis_app(await database_factory("idempotency")) as r:
        yield r


def key() -> dict[str, str]:
    return {KEY: str(uuid.uuid4())}


def assert_problem(response: httpx.Response, status: int, rule: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert [(e["field"], e["rule"]) for e in problem["errors"]] == [(f"header.{KEY}", rule)]
    return problem


async def test_a_retry_with_the_same_key_gets_the_first_response_and_creates_nothing_more(
    rig: Rig,
) -> None:
    headers = key()
    first = await rig.admin.post("/v1/schools", json={"name": "Lyceum 1"}, headers=headers)
    again = await rig.admin.post("/v1/schools", json={"name": "Lyceum 1"}, headers=headers)

    assert first.status_code == again.status_code == 201, again.text
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.headers[REPLAYED] == "true"
    assert REPLAYED not in first.headers
    assert rig.calls == ["Lyceum 1"], "the route ran again"
    assert (await rig.rows(), await rig.events()) == (1, 1)


async def test_a_json_body_sent_again_with_other_spacing_and_key_order_is_the_same_request(
    rig: Rig,
) -> None:
    headers = {**key(), "content-type": "application/json"}
    first = await rig.admin.post("/v1/schools", content=b'{"name":"Lyceum 2"}', headers=headers)
    again = await rig.admin.post(
        "/v1/schools", content=b'{ "name" : "Lyceum 2" }\n', headers=headers
    )

    assert again.headers[REPLAYED] == "true"
    assert again.content == first.content
    assert await rig.rows() == 1


async def test_the_same_key_with_another_body_or_path_is_refused_and_runs_nothing(
    rig: Rig,
) -> None:
    headers = key()
    first = await rig.admin.post("/v1/schools", json={"name": "Lyceum 3"}, headers=headers)
    assert first.status_code == 201, first.text

    other_body = await rig.admin.post("/v1/schools", json={"name": "Lyceum 4"}, headers=headers)
    other_path = await rig.admin.post(
        "/v1/schools?district=Almaly", json={"name": "Lyceum 3"}, headers=headers
    )

    problem = assert_problem(other_body, 422, "same_request")
    assert "another request" in problem["detail"]
    assert_problem(other_path, 422, "same_request")
    assert rig.calls == ["Lyceum 3"]
    assert await rig.rows() == 1


async def test_without_a_key_every_request_creates(rig: Rig) -> None:
    for _ in range(2):
        response = await rig.admin.post("/v1/schools", json={"name": "Lyceum 5"})
        assert response.status_code == 201, response.text
        assert REPLAYED not in response.headers

    assert (await rig.rows(), await rig.events(), await rig.keys()) == (2, 2, 0)


async def test_two_tokens_sending_the_same_key_do_not_see_each_others_responses(
    rig: Rig,
) -> None:
    headers = key()
    mine = await rig.admin.post("/v1/schools", json={"name": "Lyceum 6"}, headers=headers)
    theirs = await rig.other.post("/v1/schools", json={"name": "Lyceum 6"}, headers=headers)
    mine_again = await rig.admin.post("/v1/schools", json={"name": "Lyceum 6"}, headers=headers)
    theirs_again = await rig.other.post("/v1/schools", json={"name": "Lyceum 6"}, headers=headers)

    assert mine.status_code == theirs.status_code == 201
    assert REPLAYED not in theirs.headers
    assert mine.json()["id"] != theirs.json()["id"]
    assert mine_again.content == mine.content
    assert theirs_again.content == theirs.content
    assert await rig.rows() == 2


async def test_a_4xx_answer_is_kept_and_replayed(rig: Rig) -> None:
    headers = key()
    first = await rig.admin.post("/v1/schools", json={"name": "taken"}, headers=headers)
    again = await rig.admin.post("/v1/schools", json={"name": "taken"}, headers=headers)

    assert first.status_code == again.status_code == 409
    assert again.content == first.content
    assert again.headers["content-type"] == "application/problem+json"
    assert again.headers[REPLAYED] == "true"
    assert rig.calls == ["taken"]


async def test_a_request_that_raised_or_answered_5xx_keeps_nothing_and_its_retry_runs(
    rig: Rig,
) -> None:
    rig.raising["Lyceum 7"] = 1
    rig.unavailable["Lyceum 8"] = 1
    for name, failed_with in (("Lyceum 7", 500), ("Lyceum 8", 503)):
        headers = key()
        failed = await rig.admin.post("/v1/schools", json={"name": name}, headers=headers)
        assert failed.status_code == failed_with, failed.text

        retried = await rig.admin.post("/v1/schools", json={"name": name}, headers=headers)

        assert retried.status_code == 201, retried.text
        assert REPLAYED not in retried.headers
    assert rig.calls == ["Lyceum 7", "Lyceum 7", "Lyceum 8", "Lyceum 8"]
    assert await rig.rows() == 2


async def test_a_retry_while_the_first_request_is_in_progress_gets_409_with_retry_after(
    rig: Rig,
) -> None:
    headers = key()
    first, gate = await rig.held_create("Lyceum 9", headers)

    concurrent = await rig.admin.post("/v1/schools", json={"name": "Lyceum 9"}, headers=headers)

    assert_problem(concurrent, 409, "in_progress")
    assert concurrent.headers["retry-after"] == "1"
    gate.set()
    assert (await first).status_code == 201
    later = await rig.admin.post("/v1/schools", json={"name": "Lyceum 9"}, headers=headers)
    assert later.headers[REPLAYED] == "true"
    assert rig.calls == ["Lyceum 9"]
    assert await rig.rows() == 1


async def test_a_create_that_committed_but_lost_its_response_is_never_run_again(
    rig: Rig,
) -> None:
    """The key commits with the state change: a stop between the commit and keeping the
    response (here the route raises after its commit) leaves the key recorded."""
    headers = key()
    lost = await rig.admin.post("/v1/schools", json={"name": "crash after commit"}, headers=headers)
    assert lost.status_code == 500
    assert (await rig.rows(), await rig.keys()) == (1, 1)

    soon = await rig.admin.post("/v1/schools", json={"name": "crash after commit"}, headers=headers)
    assert_problem(soon, 409, "in_progress")
    rig.clock_ahead(timedelta(minutes=5))
    later = await rig.admin.post(
        "/v1/schools", json={"name": "crash after commit"}, headers=headers
    )
    problem = assert_problem(later, 409, "response_kept")
    assert "not carried out again" in problem["detail"]
    assert rig.calls == ["crash after commit"]
    assert await rig.rows() == 1


async def test_a_key_recorded_first_by_another_replica_rolls_this_create_back(
    database_factory: Any,
) -> None:
    """Two apps on one database (two replicas): the second request passed the check before the
    first committed; its commit finds the key taken and rolls its state change back."""
    url = await database_factory("idempotency-replicas")
    async with (
        chassis_app(url) as one,
        chassis_app(url, share_database=True) as two,
    ):
        headers = key()
        late, gate = await two.held_create("Lyceum 10", headers)
        first = await one.admin.post("/v1/schools", json={"name": "Lyceum 10"}, headers=headers)
        gate.set()

        assert first.status_code == 201, first.text
        assert_problem(await late, 409, "in_progress")
        assert (await one.rows(), await one.events(), await one.keys()) == (1, 1, 1)
        replayed = await two.admin.post("/v1/schools", json={"name": "Lyceum 10"}, headers=headers)
        assert replayed.content == first.content
        assert replayed.headers[REPLAYED] == "true"


async def test_an_expired_key_is_swept_and_may_be_used_again(rig: Rig) -> None:
    headers = key()
    first = await rig.admin.post("/v1/schools", json={"name": "Lyceum 11"}, headers=headers)
    assert first.status_code == 201
    rig.clock_ahead(timedelta(hours=25))  # the default retention is 24 hours

    reused = await rig.admin.post("/v1/schools", json={"name": "Lyceum 11"}, headers=headers)

    assert reused.status_code == 201
    assert REPLAYED not in reused.headers
    assert reused.json()["id"] != first.json()["id"]
    assert await rig.keys() == 1, "the expired row was not taken over"
    rig.runtime.idempotency._next_sweep = 0.0
    rig.clock_ahead(timedelta(hours=50))
    await rig.admin.post("/v1/schools", json={"name": "Lyceum 12"}, headers=key())
    assert await rig.keys() == 1, "the sweep left an expired key"


@pytest.mark.parametrize(
    "value",
    [b"", b"k" * 256, "ключ".encode(), b"tab\tinside"],
    ids=["empty", "too long", "not ascii", "control character"],
)
async def test_a_malformed_key_is_a_422_naming_the_header(rig: Rig, value: bytes) -> None:
    response = await rig.admin.post(
        "/v1/schools", json={"name": "Lyceum 13"}, headers={KEY.encode(): value}
    )

    problem = assert_problem(response, 422, "printable_ascii")
    assert KEY in problem["detail"]
    assert rig.calls == []


async def test_the_longest_key_and_a_quoted_one_are_accepted(rig: Rig) -> None:
    for value in ("k" * 255, '"8e03978e-40d5-43e8-bc93-6894a57f9324"'):
        response = await rig.admin.post(
            "/v1/schools", json={"name": f"Lyceum {len(value)}"}, headers={KEY: value}
        )
        assert response.status_code == 201, response.text


async def test_a_request_with_an_unknown_token_gets_its_401_and_keeps_no_key(rig: Rig) -> None:
    response = await rig.admin.post(
        "/v1/schools",
        json={"name": "Lyceum 14"},
        headers={**key(), "Authorization": "Bearer yts_unknown"},
    )

    assert response.status_code == 401
    assert await rig.keys() == 0
    assert rig.calls == []


# -- a service's own app ---------------------------------------------------------------------


@pytest.fixture
async def enrolment(provisioned: str, database_factory: Any) -> AsyncIterator[httpx.AsyncClient]:
    from yts_enrolment.main import create_app
    from yts_enrolment.settings import EnrolmentSettings

    url = await database_factory("enrolment-idempotency")
    app = create_app(settings_for(EnrolmentSettings, nats_url=provisioned, database_url=url))
    async with running(app) as client:
        client.app = app  # type: ignore[attr-defined]
        yield client


async def staged_types(client: httpx.AsyncClient) -> list[str]:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    outbox = runtime.outbox.table
    async with runtime.db.session() as session:
        return sorted((await session.execute(select(outbox.c.event_type))).scalars())


async def test_enrolment_registers_a_school_once_for_two_posts_with_one_key(
    enrolment: httpx.AsyncClient,
) -> None:
    headers = key()
    body = {**SCHOOL, "name": "Idempotent Lyceum"}
    first = await enrolment.post("/v1/schools", json=body, headers=headers)
    again = await enrolment.post("/v1/schools", json=body, headers=headers)
    other = await enrolment.post("/v1/schools", json={**body, "name": "Other"}, headers=headers)

    assert first.status_code == 201, first.text
    assert again.content == first.content
    assert again.headers[REPLAYED] == "true"
    assert_problem(other, 422, "same_request")
    schools = (await enrolment.get("/v1/schools")).json()
    assert [s["name"] for s in schools["items"]] == ["Idempotent Lyceum"]
    assert await staged_types(enrolment) == sorted(
        [SchoolRegistered.event_type, SchoolContact.event_type]
    ), "an event was staged twice"


async def test_erasing_a_trainer_erases_the_kept_response_to_their_enrolment(
    enrolment: httpx.AsyncClient,
) -> None:
    """The kept response held the trainer's names: erasure takes it too, and a retry of the
    enrolment is neither replayed nor run again."""
    school_id, cohort_id = await setup_school_and_cohort(enrolment)
    names = {"first_name": "Qxzerasable", "last_name": "Qxzkeptcopy"}
    body = trainer(school_id, cohort_id, **names, notes="qxz-private-note")
    headers = key()
    enrolled = await enrolment.post("/v1/trainers", json=body, headers=headers)
    assert enrolled.status_code == 201, enrolled.text
    assert (await enrolment.post("/v1/trainers", json=body, headers=headers)).headers[REPLAYED]

    erased = await enrolment.delete(f"/v1/trainers/{enrolled.json()['id']}/personal-data")
    retried = await enrolment.post("/v1/trainers", json=body, headers=headers)

    assert erased.status_code == 200, erased.text
    problem = assert_problem(retried, 409, "response_kept")
    assert "erased" in problem["detail"]
    assert (await enrolment.get("/v1/trainers")).json()["total"] == 1
    runtime = enrolment.app.state.runtime  # type: ignore[attr-defined]
    async with runtime.db.session() as session:
        kept = (await session.execute(select(messaging.idempotency))).all()
    assert "qxz" not in repr(kept).lower()
    if runtime.db.is_sqlite:  # the bytes are gone from its files too (secure_delete)
        database = Path(runtime.db.url.database)
        files = [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
        on_disk = b"".join(f.read_bytes() for f in files if f.exists())
        assert [n for n in (b"Qxzerasable", b"Qxzkeptcopy", b"qxz-private") if n in on_disk] == []


@pytest.mark.parametrize("service", list(SERVICES))
def test_every_create_documents_the_idempotency_key_header(service: str, tmp_path: Path) -> None:
    """A create answers 201: each documents the header and the 409 of a key in progress."""
    main = importlib.import_module(f"yts_{service}.main")
    settings_type = getattr(importlib.import_module(f"yts_{service}.settings"), SERVICES[service])
    settings = settings_for(
        settings_type,
        nats_url="nats://127.0.0.1:4222",  # never connected: no lifespan runs
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}",
    )
    document = main.create_app(settings).openapi()
    creates = {
        path: operation
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if method == "post" and "201" in operation["responses"]
    }

    if service == "reporting":
        assert creates == {}  # reporting only reads; its table waits for a create
        return
    assert creates
    for path, operation in creates.items():
        headers = [p for p in operation.get("parameters", []) if p["in"] == "header"]
        assert [p["name"] for p in headers] == [KEY], path
        assert headers[0]["required"] is False, path
        assert headers[0]["schema"]["maxLength"] == 255, path
        assert "in progress" in operation["responses"]["409"]["description"], path
