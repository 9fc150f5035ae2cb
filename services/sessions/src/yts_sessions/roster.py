"""The roster replica: how each enrolment event changes this service's view of schools,
cohorts and trainers. Upserts only, applied through the inbox, so a redelivered, repeated or
out-of-order event leaves the same roster."""

from __future__ import annotations

from sqlalchemy import select, update
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

from yts_sessions.domain import TrainerStatus
from yts_sessions.store import (
    PeerSession,
    RosterCohort,
    RosterSchool,
    RosterTrainer,
    SessionFacilitator,
)


async def school_registered(session: AsyncSession, event: ReceivedEvent) -> None:
    data = event.data
    assert isinstance(data, SchoolRegistered)
    await upsert(
        session,
        RosterSchool,
        {"school_id": data.school_id, "name": data.name, "registered_at": data.registered_at},
        key=["school_id"],
    )


async def cohort_opened(session: AsyncSession, event: ReceivedEvent) -> None:
    data = event.data
    assert isinstance(data, CohortOpened)
    await upsert(
        session,
        RosterCohort,
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
    # The status is left alone: a withdrawal that arrived first must stay.
    await upsert(
        session,
        RosterTrainer,
        {
            "trainer_id": data.trainer_id,
            "school_id": data.school_id,
            "cohort_id": data.cohort_id,
            "grade": data.grade,
            "status": TrainerStatus.active.value,
            "enrolled_at": data.enrolled_at,
        },
        key=["trainer_id"],
        update=["school_id", "cohort_id", "grade", "enrolled_at"],
    )


async def trainer_withdrawn(session: AsyncSession, event: ReceivedEvent) -> None:
    data = event.data
    assert isinstance(data, TrainerWithdrawn)
    await upsert(
        session,
        RosterTrainer,
        {
            "trainer_id": data.trainer_id,
            "school_id": data.school_id,
            "status": TrainerStatus.withdrawn.value,
            "withdrawn_at": data.withdrawn_at,
        },
        key=["trainer_id"],
        update=["status", "withdrawn_at"],
    )


async def trainer_erased(session: AsyncSession, event: ReceivedEvent) -> None:
    data = event.data
    assert isinstance(data, TrainerErased)
    # The tombstone keeps its completions, sessions and milestones so that counts stay right.
    # The only free text here, a cancelled session's note, may name the trainer: the notes of
    # the sessions they were to run go.
    facilitated = select(col(SessionFacilitator.session_id)).where(
        col(SessionFacilitator.trainer_id) == data.trainer_id
    )
    await session.execute(
        update(PeerSession)
        .where(
            col(PeerSession.id).in_(facilitated), col(PeerSession.cancellation_note).is_not(None)
        )
        .values(cancellation_note=None)
    )
    await upsert(
        session,
        RosterTrainer,
        {
            "trainer_id": data.trainer_id,
            "status": TrainerStatus.active.value,
            "erased_at": data.erased_at,
        },
        key=["trainer_id"],
        update=["erased_at"],
    )


ROSTER_HANDLERS: dict[str, EventHandler] = {
    SchoolRegistered.event_type: school_registered,
    CohortOpened.event_type: cohort_opened,
    TrainerEnrolled.event_type: trainer_enrolled,
    TrainerWithdrawn.event_type: trainer_withdrawn,
    TrainerErased.event_type: trainer_erased,
}
