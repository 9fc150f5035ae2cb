"""Dead letters shown to staff and applied again once their fault is fixed, on a service built by
the chassis' runtime over a real nats-server and database: a rejected event is listed with its
reason; once the handler accepts it, a redrive applies it exactly once and removes it; a letter
that still fails stays with its reason; only staff may look. And the events a request causes
record who caused it (``ce-actor``), an id, never a name."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends
from faststream.nats import NatsRouter
from nats.aio.msg import Msg
from nats.js.client import JetStreamContext
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from yts_chassis import service
from yts_chassis.auth import Principal, Role, require_roles
from yts_chassis.broker import durable_subscriber
from yts_chassis.consumer import RejectEvent
from yts_chassis.service import ServiceRuntime
from yts_chassis.settings import ServiceSettings
from yts_chassis.topology import DurableConsumer
from yts_contracts.enrolment import SchoolRegistered
from yts_contracts.envelope import ReceivedEvent
from yts_contracts.streams import DLQ_STREAM, ENROLMENT_STREAM

from tests.chassis.rig import (
    applied_names,
    fresh_database,
    messaging,
    record_school,
    school_consumer,
    school_event,
)
from tests.support.access import issue
from tests.support.services import ADMIN_TOKEN, eventually

Staff = Annotated[Principal, Depends(require_roles(Role.admin, Role.coordinator))]


class SchoolIn(BaseModel):
    name: str


@dataclass
class Service:
    """A service of the chassis whose one consumer refuses the schools named in ``refused``
    (the fault a person later fixes) and notes the actor of each event it applies."""

    runtime: ServiceRuntime
    durable: DurableConsumer
    staff: httpx.AsyncClient
    refused: set[str] = field(default_factory=set)
    actors: dict[str, str | None] = field(default_factory=dict)

    async def letters(self) -> list[dict[str, Any]]:
        answer = await self.staff.get("/v1/dead-letters")
        assert answer.status_code == 200, answer.text
        return [x for x in answer.json()["items"] if x["consumer"] == self.durable.durable]


@pytest.fixture
async def svc(
    js: JetStreamContext,
    provisioned: str,
    database_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Service]:
    """A service of the chassis on the test's nats-server and a database of its own."""
    nats_url, database_url = provisioned, await database_factory("redrive")
    name = f"redrive-{uuid.uuid4().hex[:8]}"
    durable = await school_consumer(js, name, name)
    await (await fresh_database(database_url)).dispose()

    async def migrated(url: str, migrations: Path) -> None:
        return None

    monkeypatch.setattr(service, "upgrade_async", migrated)
    settings = ServiceSettings(
        service_name=name,
        nats_url=nats_url,
        database_url=database_url,
        admin_token=ADMIN_TOKEN,
        outbox_poll_seconds=0.5,
    )
    runtime = ServiceRuntime(settings, messaging, Path("unused"), configure_logs=False)
    state: list[Service] = []

    async def refuse_or_record(session: AsyncSession, event: ReceivedEvent) -> None:
        school = event.data
        assert isinstance(school, SchoolRegistered)
        if school.name in state[0].refused:
            raise RejectEvent(f"the school {school.name!r} is not on the programme's list")
        state[0].actors[school.name] = event.attributes.actor
        await record_school(session, event)

    subscriptions = NatsRouter()
    consumer = runtime.consumer(durable, {SchoolRegistered.event_type: refuse_or_record})

    @durable_subscriber(
        subscriptions, durable, inbox_prefix=settings.nats_inbox_prefix, batch_size=1
    )
    async def on_events(messages: Sequence[Msg]) -> None:
        await consumer.handle(messages)

    routes = APIRouter()

    @routes.post("/v1/schools", status_code=201)
    async def register(body: SchoolIn, _: Staff) -> None:
        async with runtime.db.transaction() as session:
            await runtime.outbox.add(
                session,
                SchoolRegistered(
                    school_id=uuid.uuid4(),
                    name=body.name,
                    district="Almaly",
                    languages=["kk"],
                    registered_at=datetime.now(UTC),
                ),
            )

    app = runtime.create_app(
        title="tests", description="redrive", routers=[routes], subscriptions=[subscriptions]
    )
    try:
        async with app.router.lifespan_context(app):
            await eventually(runtime.nats_ready)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport,
                base_url="http://service",
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            ) as staff:
                state.append(Service(runtime, durable, staff))
                yield state[0]
    finally:
        await js.delete_consumer(ENROLMENT_STREAM, name)


async def publish_school(js: JetStreamContext, name: str) -> str:
    subject, headers, body = school_event(name)
    await js.publish(subject, body, headers=headers)
    return headers["ce-id"]


async def test_a_rejected_event_is_listed_with_its_reason_and_applied_once_when_fixed(
    js: JetStreamContext, provisioned: str, svc: Service
) -> None:
    svc.refused.update({"School 7", "School 9"})
    fixed_id = await publish_school(js, "School 7")
    await publish_school(js, "School 9")
    await publish_school(js, "School 12")
    await eventually(lambda: applied_names(svc.runtime.db), timeout=10)

    async def two_letters() -> list[dict[str, Any]]:
        letters = await svc.letters()
        return letters if len(letters) == 2 else []

    letters = await eventually(two_letters)
    by_event = {x["event_id"]: x for x in letters}
    letter = by_event[fixed_id]
    assert letter["reason"] == "the school 'School 7' is not on the programme's list"
    assert letter["event_type"] == "yts.enrolment.school.registered.v1"
    assert letter["subject"] == "yts.enrolment.school.registered.v1"
    assert letter["deliveries"] == 1
    assert letter["dead_lettered_at"]
    assert "name" not in letter
    assert "data" not in letter
    assert await applied_names(svc.runtime.db) == ["School 12"]

    # The fault is fixed for School 7 only.
    svc.refused.discard("School 7")
    done = await svc.staff.post(f"/v1/dead-letters/{letter['seq']}/redrive")
    assert done.status_code == 200, done.text
    assert done.json()["outcome"] == "applied"
    assert await applied_names(svc.runtime.db) == ["School 12", "School 7"]
    again = await svc.staff.post(f"/v1/dead-letters/{letter['seq']}/redrive")
    assert again.status_code == 404
    assert again.headers["content-type"].startswith("application/problem+json")

    still = next(x for x in letters if x["event_id"] != fixed_id)
    refused = await svc.staff.post(f"/v1/dead-letters/{still['seq']}/redrive")
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    (error,) = refused.json()["errors"]
    assert error["rule"] == "still_rejected"
    assert "'School 9' is not on the programme's list" in error["message"]
    assert [x["event_id"] for x in await svc.letters()] == [still["event_id"]]
    assert await applied_names(svc.runtime.db) == ["School 12", "School 7"]


async def test_an_event_applied_before_is_not_applied_again_by_a_redrive(
    js: JetStreamContext, provisioned: str, svc: Service
) -> None:
    subject, headers, body = school_event("School 3")
    await js.publish(subject, body, headers=headers)
    await eventually(lambda: applied_names(svc.runtime.db))
    # The same event dead-lettered by hand, as a replica racing the first would have.
    letter = await js.publish(
        f"yts.dlq.{svc.runtime.service}.{subject}",
        body,
        headers={
            **headers,
            "Nats-Msg-Id": str(uuid.uuid4()),
            "yts-dlq-consumer": svc.durable.durable,
            "yts-dlq-reason": "a test's letter",
        },
        stream=DLQ_STREAM,
    )
    done = await svc.staff.post(f"/v1/dead-letters/{letter.seq}/redrive")
    assert done.status_code == 200, done.text
    assert done.json()["outcome"] == "duplicate"
    assert await applied_names(svc.runtime.db) == ["School 3"]
    assert await svc.letters() == []


async def test_only_staff_see_or_redrive_dead_letters_and_only_their_services(
    js: JetStreamContext, provisioned: str, svc: Service
) -> None:
    coordinator = await issue(provisioned, Role.coordinator, uuid.uuid4())
    bearer = {"Authorization": f"Bearer {coordinator.token}"}
    listing = await svc.staff.get("/v1/dead-letters", headers=bearer)
    assert listing.status_code == 403
    redrive = await svc.staff.post("/v1/dead-letters/1/redrive", headers=bearer)
    assert redrive.status_code == 403
    # Another service's letter is not this one's to show or apply.
    subject, headers, body = school_event("Elsewhere")
    other = await js.publish(
        f"yts.dlq.another-service.{subject}",
        body,
        headers={**headers, "yts-dlq-consumer": svc.durable.durable},
        stream=DLQ_STREAM,
    )
    assert (await svc.staff.post(f"/v1/dead-letters/{other.seq}/redrive")).status_code == 404
    assert await svc.letters() == []


async def test_events_a_request_causes_name_who_caused_them_by_id_only(
    js: JetStreamContext, provisioned: str, svc: Service
) -> None:
    coordinator = await issue(provisioned, Role.coordinator, uuid.uuid4(), label="Aigerim's")
    by_token = await svc.staff.post(
        "/v1/schools",
        json={"name": "By a token"},
        headers={"Authorization": f"Bearer {coordinator.token}"},
    )
    assert by_token.status_code == 201, by_token.text
    by_admin = await svc.staff.post("/v1/schools", json={"name": "By the bootstrap admin"})
    assert by_admin.status_code == 201, by_admin.text
    from_a_consumer = await publish_school(js, "From elsewhere")
    assert from_a_consumer

    async def all_three() -> dict[str, str | None]:
        return svc.actors if len(svc.actors) == 3 else {}

    actors = await eventually(all_three)
    assert actors == {
        "By a token": f"token:{coordinator.record.id}",
        "By the bootstrap admin": "admin:bootstrap",
        "From elsewhere": None,  # published without a request: no actor
    }
