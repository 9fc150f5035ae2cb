"""The indicators' SQL on its own, fast: read-model rows written straight into an in-memory
SQLite database, the indicator queries asked, the figures checked. No HTTP, no NATS, no events:
each test runs in milliseconds, so a wrong join or condition shows up here before the slow
tests that go through the whole service.

What is checked: a cancelled session counts nowhere; the average rating is weighted by the
feedback responses; a trainer filter selects the sessions a matching trainer ran, and a session
run by a girl and a boy counts in both gender rows; a period includes both its days; a
programme milestone counts in the total and in no district; only the served generation is
read; schools participate by an enrolment or a delivered session; the sessions export lists
exactly the delivered sessions, with counts only."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlmodel import SQLModel
from yts_chassis.database import Database
from yts_reporting.exports import session_rows
from yts_reporting.filters import Filters, PeriodReversed
from yts_reporting.indicators import ALL, snapshot
from yts_reporting.store import (
    ProjectedMilestone,
    ProjectedSchool,
    ProjectedSession,
    ProjectedSessionFacilitator,
    ProjectedSessionPeers,
    ProjectedTrainer,
    ProjectionGeneration,
    metadata,
)

pytestmark = pytest.mark.timeout(10)

NOW = datetime(2024, 10, 1, 9, 0, tzinfo=UTC)
OCTOBER_10 = date(2024, 10, 10)


@pytest.fixture
async def db() -> AsyncIterator[Database]:
    database = Database("sqlite+aiosqlite:///:memory:")
    async with database.engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield database
    await database.dispose()


async def insert(db: Database, *rows: SQLModel) -> None:
    async with db.transaction() as session:
        session.add_all(rows)


def school(district: str = "Almaly", generation: int = 1) -> ProjectedSchool:
    return ProjectedSchool(
        generation=generation,
        school_id=uuid.uuid4(),
        name=f"Gymnasium No. {uuid.uuid4().int % 200}",
        district=district,
        registered_at=NOW,
    )


def trainer(
    at: ProjectedSchool,
    *,
    grade: int = 10,
    gender: str = "female",
    enrolled_on: date = date(2024, 9, 2),
    withdrawn_on: date | None = None,
) -> ProjectedTrainer:
    return ProjectedTrainer(
        generation=at.generation,
        trainer_id=uuid.uuid4(),
        school_id=at.school_id,
        cohort_id=uuid.uuid4(),
        grade=grade,
        gender=gender,
        enrolled_at=NOW,
        enrolled_on=enrolled_on,
        withdrawn_on=withdrawn_on,
    )


def session(
    at: ProjectedSchool,
    *,
    delivered_on: date | None = OCTOBER_10,
    participants: int = 20,
    female: int = 8,
    male: int = 10,
    responses: int = 10,
    rating: float | None = 4.0,
    cancelled: bool = False,
) -> ProjectedSession:
    return ProjectedSession(
        generation=at.generation,
        session_id=uuid.uuid4(),
        school_id=at.school_id,
        topic_module_id="intercultural-communication",
        language="kk",
        delivered_on=delivered_on,
        duration_minutes=60,
        participants=participants,
        participants_female=female,
        participants_male=male,
        feedback_responses=responses,
        average_rating=rating,
        cancelled_at=NOW if cancelled else None,
        cancelled_on=NOW.date() if cancelled else None,
    )


def ran(peer_session: ProjectedSession, *by: ProjectedTrainer) -> list[Any]:
    return [
        ProjectedSessionFacilitator(
            generation=peer_session.generation,
            session_id=peer_session.session_id,
            trainer_id=t.trainer_id,
        )
        for t in by
    ]


def milestone(kind: str, subject_type: str, subject_id: uuid.UUID | None) -> ProjectedMilestone:
    return ProjectedMilestone(
        generation=1,
        milestone_id=uuid.uuid4(),
        kind=kind,
        subject_type=subject_type,
        subject_id=subject_id,
        reached_at=NOW,
        reached_on=OCTOBER_10,
    )


async def test_a_cancelled_session_counts_nowhere(db: Database) -> None:
    lyceum = school()
    dana = trainer(lyceum)
    delivered = session(lyceum, participants=20, female=8, male=10)
    cancelled_after = session(lyceum, participants=30, cancelled=True)
    cancelled_before = session(lyceum, delivered_on=None, cancelled=True)
    await insert(
        db,
        lyceum,
        dana,
        delivered,
        cancelled_after,
        cancelled_before,
        *ran(delivered, dana),
        *ran(cancelled_after, dana),
        ProjectedSessionPeers(
            generation=1, session_id=delivered.session_id, grade=8, participants=12
        ),
        ProjectedSessionPeers(
            generation=1, session_id=cancelled_after.session_id, grade=8, participants=30
        ),
    )

    async with snapshot(db) as read_model:
        totals = await read_model.overall(Filters())
    listed = await session_rows(db, Filters())

    assert totals.sessions_delivered == 1
    assert totals.peer_participations == 20
    assert (totals.peers_female, totals.peers_male, totals.peers_unstated) == (8, 10, 2)
    assert totals.peers_by_grade == {8: 12}
    assert totals.trainers_active == 1
    assert [row.session_id for row in listed] == [delivered.session_id]
    assert (listed[0].facilitators, listed[0].peers_by_grade) == (1, {8: 12})


async def test_the_average_rating_is_weighted_by_the_feedback_responses(db: Database) -> None:
    lyceum = school()
    await insert(
        db,
        lyceum,
        session(lyceum, responses=10, rating=4.0),
        session(lyceum, responses=30, rating=5.0),
        session(lyceum, responses=0, rating=None),  # nobody answered: no weight
    )

    async with snapshot(db) as read_model:
        totals = await read_model.overall(Filters())

    assert totals.sessions_delivered == 3
    assert totals.feedback_responses == 40
    assert totals.average_rating == 4.75  # (10 x 4 + 30 x 5) / 40, not (4 + 5) / 2


async def test_a_trainer_filter_selects_the_sessions_a_matching_trainer_ran(
    db: Database,
) -> None:
    lyceum = school()
    girl = trainer(lyceum, grade=10, gender="female")
    boy = trainer(lyceum, grade=11, gender="male")
    together = session(lyceum, participants=15)
    girl_alone = session(lyceum, participants=9)
    await insert(
        db,
        lyceum,
        girl,
        boy,
        together,
        girl_alone,
        *ran(together, girl, boy),
        *ran(girl_alone, girl),
    )

    async with snapshot(db) as read_model:
        overall = await read_model.overall(Filters())
        by_gender = await read_model.totals(Filters(), "gender")
        grade_11 = await read_model.overall(Filters(grade=11))
        grade_9 = await read_model.overall(Filters(grade=9))

    assert (overall.sessions_delivered, overall.peer_participations) == (2, 24)
    # A session run by a girl and a boy counts in both rows: rows add up to more than the total.
    assert by_gender["female"].sessions_delivered == 2
    assert by_gender["male"].sessions_delivered == 1
    assert (by_gender["male"].peer_participations, by_gender["male"].trainers_active) == (15, 1)
    assert (grade_11.sessions_delivered, grade_11.trainers_enrolled) == (1, 1)
    assert (grade_9.sessions_delivered, grade_9.trainers_enrolled) == (0, 0)


async def test_a_period_includes_its_first_and_last_day(db: Database) -> None:
    lyceum = school()
    await insert(
        db,
        lyceum,
        trainer(lyceum, enrolled_on=date(2024, 8, 31)),
        trainer(lyceum, enrolled_on=date(2024, 9, 1)),
        trainer(lyceum, enrolled_on=date(2024, 9, 30), withdrawn_on=date(2024, 9, 30)),
        trainer(lyceum, enrolled_on=date(2024, 10, 1), withdrawn_on=date(2024, 10, 2)),
    )

    september = Filters(start=date(2024, 9, 1), end=date(2024, 9, 30))
    async with snapshot(db) as read_model:
        totals = await read_model.overall(september)
        months = await read_model.totals(Filters(), "month")

    assert (totals.trainers_enrolled, totals.trainers_withdrawn) == (2, 1)
    assert {month: row.trainers_enrolled for month, row in months.items()} == {
        "2024-08": 1,
        "2024-09": 2,
        "2024-10": 1,
    }


def test_a_period_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(PeriodReversed):
        Filters(start=date(2024, 6, 1), end=date(2024, 1, 1))


async def test_a_programme_milestone_counts_in_the_total_and_in_no_district(
    db: Database,
) -> None:
    lyceum = school("Medeu")
    dana = trainer(lyceum)
    await insert(
        db,
        lyceum,
        dana,
        milestone("trainer.certified", "trainer", dana.trainer_id),
        milestone("school.first_session", "school", lyceum.school_id),
        milestone("programme.sessions_1000", "programme", None),
    )

    async with snapshot(db) as read_model:
        overall = await read_model.overall(Filters())
        by_district = await read_model.totals(Filters(), "district")
        by_grade = await read_model.totals(Filters(), "grade")

    assert (overall.milestones_reached, overall.trainers_certified) == (3, 1)
    assert by_district["Medeu"].milestones_reached == 2  # the school's and its trainer's
    assert by_grade[10].milestones_reached == 1  # only a trainer's has a grade


async def test_only_the_served_generation_is_read(db: Database) -> None:
    served, rebuilt = school(generation=1), school(generation=2)
    await insert(
        db,
        served,
        session(served, participants=10),
        rebuilt,
        session(rebuilt, participants=10),
        session(rebuilt, participants=10),
    )

    async with snapshot(db) as read_model:
        before = await read_model.overall(Filters())
    await insert(db, ProjectionGeneration(id=1, serving=2))
    async with snapshot(db) as read_model:
        after = await read_model.overall(Filters())
        schools = await read_model.schools()

    assert (before.sessions_delivered, before.peer_participations) == (1, 10)
    assert (after.sessions_delivered, after.peer_participations) == (2, 20)
    assert [s.school_id for s in schools] == [rebuilt.school_id]


async def test_a_school_participates_by_an_enrolment_or_a_delivered_session(
    db: Database,
) -> None:
    enrolling, delivering, idle = school("Almaly"), school("Almaly"), school("Bostandyk")
    await insert(
        db,
        enrolling,
        delivering,
        idle,
        trainer(enrolling),
        session(delivering),
        session(idle, cancelled=True),
    )

    async with snapshot(db) as read_model:
        totals = await read_model.totals(Filters(), None)
        by_district = await read_model.totals(Filters(), "district")
        by_school = await read_model.totals(Filters(), "school")

    assert totals[ALL].schools_participating == 2
    assert by_district["Almaly"].schools_participating == 2
    assert "Bostandyk" not in by_district
    assert set(by_school) == {enrolling.school_id, delivering.school_id}
