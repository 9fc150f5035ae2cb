"""Test helpers for the sessions service: enrolment's facts published on the real JetStream (as
the enrolment service would publish them), coordinator tokens, request bodies and problem checks,
and what a sessions app staged in its outbox."""

from __future__ import annotations

import contextlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from nats.js.client import JetStreamContext
from sqlalchemy import select
from yts_chassis.auth import Role
from yts_contracts.enrolment import (
    CohortOpened,
    SchoolRegistered,
    TrainerEnrolled,
    TrainerErased,
    TrainerWithdrawn,
    WithdrawalReason,
)
from yts_contracts.envelope import to_nats
from yts_contracts.event import EventData
from yts_sessions.curriculum import load_curriculum
from yts_sessions.settings import CURRICULUM
from yts_sessions.subscriptions import ROSTER as SESSIONS_ROSTER

from tests.support.access import bearer_for
from tests.support.services import eventually

CORE_MODULES = [m.id for m in load_curriculum(CURRICULUM).modules if m.core]

MODULE_COMPLETED = "yts.sessions.module.completed.v1"
COMPLETED = "yts.sessions.session.completed.v1"
CANCELLED = "yts.sessions.session.cancelled.v1"
MILESTONE = "yts.milestones.milestone.reached.v1"


def almaty_today() -> date:
    """Today in the programme's calendar, as the service sees it."""
    return datetime.now(ZoneInfo("Asia/Almaty")).date()


def plan(school_id: uuid.UUID | str, facilitators: list[Any], **changes: Any) -> dict[str, Any]:
    """The body of ``POST /v1/sessions``: a session planned for today."""
    body = {
        "school_id": str(school_id),
        "topic_module_id": "stereotypes-and-prejudice",
        "facilitator_ids": [str(f) for f in facilitators],
        "language": "kk",
        "planned_on": almaty_today().isoformat(),
    }
    body.update(changes)
    return body


def completion(**changes: Any) -> dict[str, Any]:
    """The body of ``POST /v1/sessions/{id}/completion``: delivered yesterday, 24 peers."""
    body: dict[str, Any] = {
        "delivered_on": (almaty_today() - timedelta(days=1)).isoformat(),
        "duration_minutes": 45,
        "participants": {"total": 24, "female": 13, "male": 10, "by_grade": {"8": 14, "9": 10}},
        "feedback": {"responses": 20, "average_rating": 4.5},
    }
    body.update(changes)
    return body


def assert_problem(response: httpx.Response, status: int, field: str, rule: str) -> dict[str, Any]:
    """A problem+json answer with this status that names this field and rule."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert any(e["field"] == field and e["rule"] == rule for e in problem["errors"]), problem
    return problem


async def skip_roster_backlog(js: JetStreamContext) -> None:
    """Acknowledge what other tests left waiting on the sessions service's durable consumer, so
    that an app starting now applies only this test's facts (the stream is shared)."""
    info = await js.consumer_info(SESSIONS_ROSTER.stream, SESSIONS_ROSTER.durable)
    if not info.num_pending:
        return
    sub = await js.pull_subscribe_bind(
        durable=SESSIONS_ROSTER.durable, stream=SESSIONS_ROSTER.stream
    )
    try:
        while True:
            try:
                batch = await sub.fetch(batch=500, timeout=0.5)
            except TimeoutError:
                break
            for message in batch:
                await message.ack()
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()


@dataclass
class Enrolment:
    """Publishes enrolment's events on the real stream, the way the enrolment service does."""

    js: JetStreamContext
    published: list[str] = field(default_factory=list)

    async def publish(
        self, data: EventData, event_id: str | None = None, *, past_duplicate_window: bool = False
    ) -> str:
        envelope = to_nats(data, source="/yts/enrolment", event_id=event_id or uuid.uuid4())
        headers = dict(envelope.headers)
        if past_duplicate_window:
            # What a re-publish looks like once the server has forgotten the id: only the
            # consumer's inbox can drop it.
            headers["Nats-Msg-Id"] = f"{envelope.event_id}-again"
        await self.js.publish(envelope.subject, envelope.body, headers=headers)
        self.published.append(envelope.event_id)
        return envelope.event_id

    async def school(self) -> uuid.UUID:
        school_id = uuid.uuid4()
        await self.publish(
            SchoolRegistered(
                school_id=school_id,
                name=f"School No. {school_id.hex[:6]}",
                district="Almaly",
                languages=["kk", "ru"],
                registered_at=datetime.now(UTC),
            )
        )
        return school_id

    async def cohort(self, starts_on: date, ends_on: date) -> uuid.UUID:
        cohort_id = uuid.uuid4()
        await self.publish(
            CohortOpened(
                cohort_id=cohort_id,
                name=f"{starts_on.year}-{starts_on.year + 1}",
                starts_on=starts_on,
                ends_on=ends_on,
            )
        )
        return cohort_id

    def enrolled(self, school_id: uuid.UUID, cohort_id: uuid.UUID) -> TrainerEnrolled:
        return TrainerEnrolled(
            trainer_id=uuid.uuid4(),
            school_id=school_id,
            cohort_id=cohort_id,
            grade=10,
            gender="female",
            languages=["kk"],
            enrolled_at=datetime.now(UTC),
        )

    async def trainer(self, school_id: uuid.UUID, cohort_id: uuid.UUID) -> uuid.UUID:
        event = self.enrolled(school_id, cohort_id)
        await self.publish(event)
        return event.trainer_id

    async def withdraw(self, trainer_id: uuid.UUID, school_id: uuid.UUID) -> str:
        return await self.publish(
            TrainerWithdrawn(
                trainer_id=trainer_id,
                school_id=school_id,
                reason=WithdrawalReason.PERSONAL,
                withdrawn_at=datetime.now(UTC),
            )
        )

    async def erase(self, trainer_id: uuid.UUID) -> str:
        return await self.publish(TrainerErased(trainer_id=trainer_id, erased_at=datetime.now(UTC)))


def cohort_dates(today: date | None = None) -> tuple[date, date]:
    """A cohort running now, whatever the calendar says."""
    today = today or date.today()
    return today - timedelta(days=120), today + timedelta(days=200)


async def coordinator_token(nats_url: str, school_id: uuid.UUID) -> dict[str, str]:
    return await bearer_for(nats_url, Role.coordinator, school_id)


async def partner_token(nats_url: str) -> dict[str, str]:
    return await bearer_for(nats_url, Role.partner)


async def on_roster(client: httpx.AsyncClient, *trainer_ids: uuid.UUID) -> None:
    """Wait until the sessions app knows these trainers (their events came through NATS)."""

    async def known() -> bool:
        for trainer_id in trainer_ids:
            response = await client.get(f"/v1/trainers/{trainer_id}/progress")
            if response.status_code != 200:
                return False
        return True

    await eventually(known, timeout=30)


async def withdrawn_on_roster(client: httpx.AsyncClient, trainer_id: uuid.UUID | str) -> None:
    """Wait until the sessions app knows this trainer has withdrawn."""

    async def withdrawn() -> bool:
        progress = await client.get(f"/v1/trainers/{trainer_id}/progress")
        return bool(progress.json()["status"] == "withdrawn")

    await eventually(withdrawn, timeout=30)


async def certify(client: httpx.AsyncClient, trainer_id: uuid.UUID) -> None:
    for module_id in CORE_MODULES:
        response = await client.post(
            f"/v1/trainers/{trainer_id}/module-completions", json={"module_id": module_id}
        )
        assert response.status_code == 201, response.text


@dataclass(frozen=True)
class Staged:
    event_id: str
    event_type: str
    data: dict[str, Any]


async def staged(client: httpx.AsyncClient, event_type: str | None = None) -> list[Staged]:
    """Events the app wrote to its outbox, in order (what it will publish)."""
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    table = runtime.outbox.table
    query = select(table.c.event_id, table.c.event_type, table.c.body).order_by(table.c.seq)
    if event_type is not None:
        query = query.where(table.c.event_type == event_type)
    async with runtime.db.session() as session:
        rows = (await session.execute(query)).all()
    return [Staged(r.event_id, r.event_type, json.loads(r.body)) for r in rows]


async def milestones_of(client: httpx.AsyncClient, *subject_ids: object) -> list[Staged]:
    wanted = {str(s) if s is not None else None for s in subject_ids}
    return [m for m in await staged(client, MILESTONE) if m.data["subject"]["id"] in wanted]


@dataclass(frozen=True)
class School:
    id: uuid.UUID
    cohort_id: uuid.UUID
    starts_on: date
    ends_on: date
    trainers: list[uuid.UUID]


async def school_with_trainers(
    enrolment: Enrolment, client: httpx.AsyncClient, trainers: int = 1
) -> School:
    """A registered school, a running cohort and enrolled trainers, known to the sessions app."""
    starts_on, ends_on = cohort_dates()
    school_id = await enrolment.school()
    cohort_id = await enrolment.cohort(starts_on, ends_on)
    trainer_ids = [await enrolment.trainer(school_id, cohort_id) for _ in range(trainers)]
    await on_roster(client, *trainer_ids)
    return School(school_id, cohort_id, starts_on, ends_on, trainer_ids)
