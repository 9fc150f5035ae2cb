"""How each event changes the read models. Idempotent by construction (upserts) and applied
through the inbox, so replays and redeliveries leave the same numbers."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from yts_chassis.consumer import EventHandler
from yts_chassis.database import upsert
from yts_contracts.enrolment import (
    CohortOpened,
    SchoolRegistered,
    TrainerEnrolled,
    TrainerErased,
    TrainerWithdrawn,
)
from yts_contracts.envelope import ReceivedEvent

from yts_reporting.store import CohortView, SchoolView, TrainerView


async def school_registered(session: AsyncSession, event: ReceivedEvent) -> None:
    data = event.data
    assert isinstance(data, SchoolRegistered)
    await upsert(
        session,
        SchoolView,
        {
            "school_id": data.school_id,
            "name": data.name,
            "district": data.district,
            "registered_at": data.registered_at,
        },
        key=["school_id"],
    )


async def cohort_opened(session: AsyncSession, event: ReceivedEvent) -> None:
    data = event.data
    assert isinstance(data, CohortOpened)
    await upsert(
        session,
        CohortView,
        {
            "cohort_id": data.cohort_id,
            "name": data.name,
            "starts_on": data.starts_on,
            "ends_on": data.ends_on,
        },
        key=["cohort_id"],
    )


async def trainer_enrolled(session: AsyncSession, event: ReceivedEvent) -> None:
    data = event.data
    assert isinstance(data, TrainerEnrolled)
    await upsert(
        session,
        TrainerView,
        {
            "trainer_id": data.trainer_id,
            "school_id": data.school_id,
            "cohort_id": data.cohort_id,
            "grade": data.grade,
            "gender": str(data.gender.value),
            "status": "active",
            "enrolled_at": data.enrolled_at,
        },
        key=["trainer_id"],
        update=["school_id", "cohort_id", "grade", "gender", "enrolled_at"],
    )


async def trainer_withdrawn(session: AsyncSession, event: ReceivedEvent) -> None:
    data = event.data
    assert isinstance(data, TrainerWithdrawn)
    await session.execute(
        update(TrainerView)
        .where(col(TrainerView.trainer_id) == data.trainer_id)
        .values(status="withdrawn", withdrawn_at=data.withdrawn_at)
    )


async def trainer_erased(session: AsyncSession, event: ReceivedEvent) -> None:
    data = event.data
    assert isinstance(data, TrainerErased)
    # Only categories are held here; the tombstone keeps the counts right.
    await session.execute(
        update(TrainerView)
        .where(col(TrainerView.trainer_id) == data.trainer_id)
        .values(erased=True)
    )


ENROLMENT_HANDLERS: dict[str, EventHandler] = {
    SchoolRegistered.event_type: school_registered,
    CohortOpened.event_type: cohort_opened,
    TrainerEnrolled.event_type: trainer_enrolled,
    TrainerWithdrawn.event_type: trainer_withdrawn,
    TrainerErased.event_type: trainer_erased,
}
