"""Reporting's read models (projections), built only from events.

Every projected row belongs to a *generation*: the service answers from the generation that
``projection_generation.serving`` names, while a rebuild fills the next one from the streams;
switching over is one update of that row (see ``generations.py``). Rows hold facts keyed by
their natural ids (a session, a trainer, a milestone), never counters, so applying an event
twice, or two events of different streams in either order, leaves the same rows. Indicators are
counted from them when asked.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import Index
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel
from yts_chassis.tables import define_messaging_tables


class ReportingTable(SQLModel, registry=registry()):
    pass


class ProjectionGeneration(ReportingTable, table=True):
    """One row (id 1): which generation of the read models is served, which one is being
    rebuilt (live events are then applied to both)."""

    __tablename__ = "projection_generation"

    id: int = Field(default=1, primary_key=True)
    serving: int = 1
    building: int | None = None
    building_since: datetime | None = None
    switched_at: datetime | None = None


class ProjectedSchool(ReportingTable, table=True):
    __tablename__ = "projected_schools"

    generation: int = Field(primary_key=True)
    school_id: uuid.UUID = Field(primary_key=True)
    name: str = Field(max_length=200)
    district: str = Field(max_length=40)
    registered_at: datetime


class ProjectedCohort(ReportingTable, table=True):
    __tablename__ = "projected_cohorts"

    generation: int = Field(primary_key=True)
    cohort_id: uuid.UUID = Field(primary_key=True)
    name: str = Field(max_length=20)
    starts_on: date
    ends_on: date


class ProjectedTrainer(ReportingTable, table=True):
    """A trainer as categories only: no names ever reach reporting. Columns are filled by the
    event that knows them (enrolled, withdrawn, erased), in whatever order those arrive; days
    are in the programme's time zone."""

    __tablename__ = "projected_trainers"
    __table_args__ = (Index("ix_projected_trainers_school", "generation", "school_id"),)

    generation: int = Field(primary_key=True)
    trainer_id: uuid.UUID = Field(primary_key=True)
    school_id: uuid.UUID | None = None
    cohort_id: uuid.UUID | None = None
    grade: int | None = None
    gender: str | None = Field(default=None, max_length=12)
    enrolled_at: datetime | None = None
    enrolled_on: date | None = None
    withdrawn_at: datetime | None = None
    withdrawn_on: date | None = None
    withdrawal_reason: str | None = Field(default=None, max_length=20)
    erased_at: datetime | None = None


class ProjectedModuleCompletion(ReportingTable, table=True):
    __tablename__ = "projected_module_completions"

    generation: int = Field(primary_key=True)
    trainer_id: uuid.UUID = Field(primary_key=True)
    module_id: str = Field(primary_key=True, max_length=64)
    school_id: uuid.UUID
    completed_on: date


class ProjectedSession(ReportingTable, table=True):
    """A peer session. Delivered = completed (delivered_on set) and never cancelled: a
    cancellation wins whichever of the two events arrives first."""

    __tablename__ = "projected_sessions"
    __table_args__ = (Index("ix_projected_sessions_delivered", "generation", "delivered_on"),)

    generation: int = Field(primary_key=True)
    session_id: uuid.UUID = Field(primary_key=True)
    school_id: uuid.UUID
    topic_module_id: str | None = Field(default=None, max_length=64)
    language: str | None = Field(default=None, max_length=2)
    delivered_on: date | None = None
    duration_minutes: int | None = None
    participants: int | None = None
    participants_female: int | None = None
    participants_male: int | None = None
    feedback_responses: int | None = None
    average_rating: float | None = None
    cancelled_at: datetime | None = None
    cancelled_on: date | None = None


class ProjectedSessionFacilitator(ReportingTable, table=True):
    __tablename__ = "projected_session_facilitators"
    __table_args__ = (
        Index("ix_projected_session_facilitators_trainer", "generation", "trainer_id"),
    )

    generation: int = Field(primary_key=True)
    session_id: uuid.UUID = Field(primary_key=True)
    trainer_id: uuid.UUID = Field(primary_key=True)


class ProjectedSessionPeers(ReportingTable, table=True):
    """Peers of a session by their school grade, as reported (may add up to less than the
    session's participants: grades are not always recorded)."""

    __tablename__ = "projected_session_peers"

    generation: int = Field(primary_key=True)
    session_id: uuid.UUID = Field(primary_key=True)
    grade: int = Field(primary_key=True)
    participants: int


class ProjectedMilestone(ReportingTable, table=True):
    __tablename__ = "projected_milestones"

    generation: int = Field(primary_key=True)
    milestone_id: uuid.UUID = Field(primary_key=True)
    kind: str = Field(max_length=40)
    subject_type: str = Field(max_length=12)
    subject_id: uuid.UUID | None = None
    reached_at: datetime
    reached_on: date


# Every table that holds a generation's rows, in the order a generation is deleted.
PROJECTED_TABLES: tuple[type[ReportingTable], ...] = (
    ProjectedSessionPeers,
    ProjectedSessionFacilitator,
    ProjectedSession,
    ProjectedModuleCompletion,
    ProjectedMilestone,
    ProjectedTrainer,
    ProjectedCohort,
    ProjectedSchool,
)

# The same tables as SQL expressions (``trainers.c.grade``), for the queries that count
# (indicators) and list (exports).
trainers = ProjectedTrainer.__table__  # type: ignore[attr-defined]
schools = ProjectedSchool.__table__  # type: ignore[attr-defined]
cohorts = ProjectedCohort.__table__  # type: ignore[attr-defined]
sessions = ProjectedSession.__table__  # type: ignore[attr-defined]
facilitators = ProjectedSessionFacilitator.__table__  # type: ignore[attr-defined]
peers = ProjectedSessionPeers.__table__  # type: ignore[attr-defined]
milestones = ProjectedMilestone.__table__  # type: ignore[attr-defined]

metadata = ReportingTable.metadata
messaging = define_messaging_tables(metadata)
# The Alembic scripts that make these tables: the service upgrades at start-up, a rebuild first.
MIGRATIONS = Path(__file__).parent / "migrations"
