"""The sessions service's tables (its own database): a roster replica built from enrolment's
events, module completions, peer sessions, counters and milestones.

Trainers are opaque ids with their school, cohort and grade. The one free text is a cancelled
session's note, which may name someone: it is never published, and erasing a trainer clears
the notes of the sessions they were to run."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Column
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel
from yts_chassis.database import dialect_insert
from yts_chassis.tables import define_messaging_tables


class SessionsTable(SQLModel, registry=registry()):
    pass


class RosterSchool(SessionsTable, table=True):
    """A school, from ``school.registered``."""

    __tablename__ = "roster_schools"

    school_id: uuid.UUID = Field(primary_key=True)
    name: str = Field(max_length=200)
    registered_at: datetime


class RosterCohort(SessionsTable, table=True):
    """A cohort and its dates, from ``cohort.opened``: sessions fall inside them."""

    __tablename__ = "roster_cohorts"

    cohort_id: uuid.UUID = Field(primary_key=True)
    name: str = Field(max_length=20)
    starts_on: date
    ends_on: date


class RosterTrainer(SessionsTable, table=True):
    """A trainer as enrolment last told us. A withdrawal or erasure may arrive before the
    enrolment it follows (a redelivered event): the row then waits with ``enrolled_at`` NULL,
    and the trainer counts as not enrolled until ``trainer.enrolled`` fills it in."""

    __tablename__ = "roster_trainers"

    trainer_id: uuid.UUID = Field(primary_key=True)
    school_id: uuid.UUID | None = Field(default=None, index=True)
    cohort_id: uuid.UUID | None = None
    grade: int | None = None
    status: str = Field(max_length=12)
    enrolled_at: datetime | None = None
    withdrawn_at: datetime | None = None
    erased_at: datetime | None = None


class ModuleCompletion(SessionsTable, table=True):
    """One module completed by one trainer; the key makes it once per trainer."""

    __tablename__ = "module_completions"

    trainer_id: uuid.UUID = Field(primary_key=True)
    module_id: str = Field(primary_key=True, max_length=64)
    school_id: uuid.UUID = Field(index=True)
    completed_on: date
    recorded_at: datetime
    event_id: str = Field(max_length=36, description="id of the module.completed event")


class PeerSession(SessionsTable, table=True):
    __tablename__ = "peer_sessions"

    id: uuid.UUID = Field(primary_key=True)
    school_id: uuid.UUID = Field(index=True)
    topic_module_id: str = Field(max_length=64)
    language: str = Field(max_length=2)
    planned_on: date | None = None
    status: str = Field(max_length=12, index=True)
    created_at: datetime
    # Filled in on completion.
    delivered_on: date | None = None
    duration_minutes: int | None = None
    participants_total: int | None = None
    participants_female: int | None = None
    participants_male: int | None = None
    participants_by_grade: dict[str, int] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )
    feedback_responses: int | None = None
    feedback_average_rating: float | None = None
    completed_at: datetime | None = None
    # Filled in on cancellation. The reason is a code and is published; the note is the
    # coordinator's own words, kept here only and cleared when a facilitator is erased.
    cancellation_reason: str | None = Field(default=None, max_length=40)
    cancellation_note: str | None = Field(default=None, max_length=500)
    cancelled_at: datetime | None = None


class SessionFacilitator(SessionsTable, table=True):
    __tablename__ = "session_facilitators"

    session_id: uuid.UUID = Field(foreign_key="peer_sessions.id", primary_key=True)
    trainer_id: uuid.UUID = Field(primary_key=True, index=True)
    position: int = Field(description="order in which the facilitators were named")


class Counter(SessionsTable, table=True):
    """A running count of a subject (``trainer:<id>``, ``school:<id>``, ``programme``). Only
    ever changed by ``increment``, whose single statement also returns the new value."""

    __tablename__ = "counters"

    subject: str = Field(primary_key=True, max_length=80)
    name: str = Field(primary_key=True, max_length=40)
    value: int = Field(sa_column=Column(BigInteger, nullable=False))


class Milestone(SessionsTable, table=True):
    """A milestone reached; the deterministic id as key makes it once per kind and subject."""

    __tablename__ = "milestones"

    milestone_id: uuid.UUID = Field(primary_key=True)
    kind: str = Field(max_length=40, index=True)
    subject_type: str = Field(max_length=12)
    subject_id: uuid.UUID | None = Field(default=None, index=True)
    reached_at: datetime
    evidence: dict[str, int] = Field(sa_column=Column(JSON, nullable=False))
    caused_by: str = Field(max_length=36)


metadata = SessionsTable.metadata
messaging = define_messaging_tables(metadata)


async def increment(
    session: AsyncSession, steps: Sequence[tuple[str, str, int]]
) -> dict[tuple[str, str], int]:
    """Add to counts, each ``(subject, name, by)``, and return the new values by (subject,
    name), in one statement. On PostgreSQL it locks each row until commit, in the order given
    (callers sort, so concurrent transactions cannot deadlock), and concurrent transactions
    add one after the other, each seeing the value it produced; SQLite has a single writer."""
    if not steps:
        return {}
    table = Counter.__table__  # type: ignore[attr-defined]
    statement = dialect_insert(session, table).values(
        [{"subject": subject, "name": name, "value": by} for subject, name, by in steps]
    )
    statement = statement.on_conflict_do_update(
        index_elements=["subject", "name"],
        set_={"value": table.c.value + statement.excluded.value},
    ).returning(table.c.subject, table.c.name, table.c.value)
    rows = (await session.execute(statement)).all()
    return {(subject, name): int(value) for subject, name, value in rows}


async def record_milestone(session: AsyncSession, milestone: Milestone) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING on the milestone id; True when this call inserted it
    (and so must publish it), False when it was already reached."""
    table = Milestone.__table__  # type: ignore[attr-defined]
    values = milestone.model_dump()
    statement = (
        dialect_insert(session, table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["milestone_id"])
        .returning(table.c.milestone_id)
    )
    return (await session.execute(statement)).first() is not None
