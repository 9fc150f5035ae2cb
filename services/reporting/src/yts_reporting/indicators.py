"""The indicators, counted from the projected facts of one generation when asked.

What each one counts, for a period (days in the programme's time zone, both ends included):

- schools participating: schools with a trainer enrolled or a session delivered in the period;
- trainers enrolled / withdrawn: trainers (persons) whose enrolment / withdrawal falls in it;
- trainers certified: trainers whose ``trainer.certified`` milestone was reached in it;
- trainers active: trainers who facilitated at least one session delivered in it;
- sessions delivered: completed and never cancelled, delivered in it;
- peer participations: participants summed over those sessions (encounters, not persons);
- average rating: over those sessions, weighted by the number of feedback responses;
- milestones reached: milestones of any kind reached in it.

Filters: district and school select by the school; cohort, grade and gender are categories of
*trainers*: they select trainers, and the sessions (with their peers and ratings) that at least
one matching trainer facilitated. A breakdown row (by district, school, grade, gender or
month) is exactly what the same filter would give, so rows of grade or gender may add up to
more than the total (a session run by a girl and a boy counts in both).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    exists,
    func,
    literal,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from yts_chassis.database import Database

from yts_reporting.store import (
    ProjectedCohort,
    ProjectedMilestone,
    ProjectedSchool,
    ProjectedSession,
    ProjectedSessionFacilitator,
    ProjectedSessionPeers,
    ProjectedTrainer,
    ProjectionGeneration,
)

Dimension = Literal["district", "school", "grade", "gender", "month"]
DIMENSIONS: tuple[Dimension, ...] = ("district", "school", "grade", "gender", "month")
ALL = "all"
CERTIFIED = "trainer.certified"

T = ProjectedTrainer.__table__  # type: ignore[attr-defined]
S = ProjectedSchool.__table__  # type: ignore[attr-defined]
C = ProjectedCohort.__table__  # type: ignore[attr-defined]
SE = ProjectedSession.__table__  # type: ignore[attr-defined]
SF = ProjectedSessionFacilitator.__table__  # type: ignore[attr-defined]
SP = ProjectedSessionPeers.__table__  # type: ignore[attr-defined]
M = ProjectedMilestone.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Filters:
    start: date | None = None
    end: date | None = None
    district: str | None = None
    school_id: uuid.UUID | None = None
    cohort_id: uuid.UUID | None = None
    grade: int | None = None
    gender: str | None = None

    @property
    def on_trainers(self) -> bool:
        return self.cohort_id is not None or self.grade is not None or self.gender is not None

    def narrowed(self, **changes: Any) -> Filters:
        return replace(self, **changes)


@dataclass
class Totals:
    """The measures of one row (the whole selection, or one key of a breakdown)."""

    schools_participating: int = 0
    trainers_enrolled: int = 0
    trainers_certified: int = 0
    trainers_active: int = 0
    trainers_withdrawn: int = 0
    sessions_delivered: int = 0
    peer_participations: int = 0
    peers_female: int = 0
    peers_male: int = 0
    feedback_responses: int = 0
    rating_points: float = 0.0
    milestones_reached: int = 0
    peers_by_grade: dict[int, int] = field(default_factory=dict)

    @property
    def average_rating(self) -> float | None:
        if not self.feedback_responses:
            return None
        return round(self.rating_points / self.feedback_responses, 2)

    @property
    def peers_unstated(self) -> int:
        return self.peer_participations - self.peers_female - self.peers_male


@dataclass(frozen=True)
class SchoolRow:
    school_id: uuid.UUID
    name: str
    district: str
    registered_at: datetime


@dataclass(frozen=True)
class CohortRow:
    cohort_id: uuid.UUID
    name: str
    starts_on: date
    ends_on: date


@dataclass(frozen=True)
class SessionRow:
    """One delivered session for the CSV export: no trainer ids, only counts."""

    session_id: uuid.UUID
    delivered_on: date
    school_id: uuid.UUID
    school_name: str | None
    district: str | None
    topic_module_id: str | None
    language: str | None
    duration_minutes: int | None
    facilitators: int
    participants: int
    participants_female: int
    participants_male: int
    peers_by_grade: dict[int, int]
    feedback_responses: int
    average_rating: float | None


async def serving_generation(session: AsyncSession) -> int:
    row = (
        await session.execute(
            select(col(ProjectionGeneration.serving)).where(col(ProjectionGeneration.id) == 1)
        )
    ).first()
    return int(row[0]) if row is not None else 1


@asynccontextmanager
async def snapshot(db: Database) -> AsyncIterator[Reader]:
    """A reader of the served generation; every read of one request sees one snapshot, so
    the indicators of a page agree with each other."""
    async with db.snapshot() as session:
        generation = await serving_generation(session)
        yield Reader(session, generation, postgres=not db.is_sqlite)


class Reader:
    """Counts over one generation; each measure may be broken down by one dimension."""

    def __init__(self, session: AsyncSession, generation: int, *, postgres: bool) -> None:
        self.session = session
        self.generation = generation
        self.postgres = postgres

    # -- building blocks ---------------------------------------------------------------------

    def _month(self, day: Any) -> ColumnElement[Any]:
        if self.postgres:
            return func.to_char(day, "YYYY-MM")
        return func.substr(day, 1, 7)  # SQLite keeps dates as YYYY-MM-DD text

    @staticmethod
    def _period(day: Any, f: Filters) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = [day.is_not(None)]
        if f.start is not None:
            conditions.append(day >= f.start)
        if f.end is not None:
            conditions.append(day <= f.end)
        return conditions

    @staticmethod
    def _school(school: Any, f: Filters) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if f.school_id is not None:
            conditions.append(school == f.school_id)
        if f.district is not None:
            conditions.append(S.c.district == f.district)
        return conditions

    @staticmethod
    def _trainer(f: Filters) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if f.cohort_id is not None:
            conditions.append(T.c.cohort_id == f.cohort_id)
        if f.grade is not None:
            conditions.append(T.c.grade == f.grade)
        if f.gender is not None:
            conditions.append(T.c.gender == f.gender)
        return conditions

    def _school_of(self, school: Any) -> Any:
        return and_(S.c.generation == self.generation, S.c.school_id == school)

    def _trainer_of(self, trainer: Any) -> Any:
        return and_(T.c.generation == self.generation, T.c.trainer_id == trainer)

    def _key(self, dim: Dimension | None, *, school: Any, day: Any) -> ColumnElement[Any]:
        if dim is None:
            return literal(ALL)
        if dim == "district":
            return S.c.district
        if dim == "school":
            return school
        if dim == "month":
            return self._month(day)
        return T.c.grade if dim == "grade" else T.c.gender

    @staticmethod
    def _select(dim: Dimension | None, key: Any, *aggregates: Any) -> Select[Any]:
        """SELECT key, aggregates ... GROUP BY key; without a dimension, the aggregates only."""
        if dim is None:
            return select(*aggregates)
        # GROUP BY the first column by position: PostgreSQL would not match an expression
        # with bound parameters (to_char(day, $1)) to the same one in the select list.
        return select(key, *aggregates).group_by(literal_column("1"))

    async def _grouped(self, statement: Select[Any], dim: Dimension | None) -> dict[Any, Any]:
        rows = (await self.session.execute(statement)).all()
        if dim is None:
            return {ALL: tuple(rows[0])} if rows else {}
        return {row[0]: tuple(row[1:]) for row in rows}

    def _delivered(self) -> list[ColumnElement[bool]]:
        return [
            SE.c.generation == self.generation,
            SE.c.delivered_on.is_not(None),
            SE.c.cancelled_at.is_(None),
        ]

    def _sessions_scope(self, f: Filters, dim: Dimension | None) -> Select[Any]:
        """The sessions delivered under the filters, one row per (session, key)."""
        key: ColumnElement[Any]
        source: Any = SE.outerjoin(S, self._school_of(SE.c.school_id))
        conditions = [
            *self._delivered(),
            *self._period(SE.c.delivered_on, f),
            *self._school(SE.c.school_id, f),
        ]
        if dim in ("grade", "gender"):
            # A session belongs to the grade (gender) of each matching trainer who ran it.
            column = T.c.grade if dim == "grade" else T.c.gender
            by_trainer = (
                select(SF.c.session_id, column.label("key"))
                .distinct()
                .select_from(SF.join(T, self._trainer_of(SF.c.trainer_id)))
                .where(SF.c.generation == self.generation, *self._trainer(f))
                .subquery()
            )
            source = source.join(by_trainer, by_trainer.c.session_id == SE.c.session_id)
            key = by_trainer.c.key
        else:
            if f.on_trainers:
                conditions.append(
                    exists(
                        select(literal(1))
                        .select_from(SF.join(T, self._trainer_of(SF.c.trainer_id)))
                        .where(
                            SF.c.generation == self.generation,
                            SF.c.session_id == SE.c.session_id,
                            *self._trainer(f),
                        )
                    )
                )
            key = self._key(dim, school=SE.c.school_id, day=SE.c.delivered_on)
        return (
            select(
                key.label("key"),
                SE.c.session_id,
                SE.c.school_id,
                SE.c.participants,
                SE.c.participants_female,
                SE.c.participants_male,
                SE.c.feedback_responses,
                SE.c.average_rating,
            )
            .select_from(source)
            .where(*conditions)
        )

    # -- measures ----------------------------------------------------------------------------

    async def _trainers_on(self, day: Any, f: Filters, dim: Dimension | None) -> dict[Any, Any]:
        key = self._key(dim, school=T.c.school_id, day=day)
        statement = (
            self._select(dim, key, func.count())
            .select_from(T.outerjoin(S, self._school_of(T.c.school_id)))
            .where(
                T.c.generation == self.generation,
                *self._period(day, f),
                *self._school(T.c.school_id, f),
                *self._trainer(f),
            )
        )
        return await self._grouped(statement, dim)

    async def _certified(self, f: Filters, dim: Dimension | None) -> dict[Any, Any]:
        key = self._key(dim, school=T.c.school_id, day=M.c.reached_on)
        source = M.outerjoin(T, self._trainer_of(M.c.subject_id)).outerjoin(
            S, self._school_of(T.c.school_id)
        )
        statement = (
            self._select(dim, key, func.count())
            .select_from(source)
            .where(
                M.c.generation == self.generation,
                M.c.kind == CERTIFIED,
                *self._period(M.c.reached_on, f),
                *self._school(T.c.school_id, f),
                *self._trainer(f),
            )
        )
        return await self._grouped(statement, dim)

    async def _active(self, f: Filters, dim: Dimension | None) -> dict[Any, Any]:
        key = self._key(dim, school=SE.c.school_id, day=SE.c.delivered_on)
        source = (
            SF.join(
                SE,
                and_(SE.c.generation == SF.c.generation, SE.c.session_id == SF.c.session_id),
            )
            .outerjoin(T, self._trainer_of(SF.c.trainer_id))
            .outerjoin(S, self._school_of(SE.c.school_id))
        )
        statement = (
            self._select(dim, key, func.count(SF.c.trainer_id.distinct()))
            .select_from(source)
            .where(
                SF.c.generation == self.generation,
                *self._delivered(),
                *self._period(SE.c.delivered_on, f),
                *self._school(SE.c.school_id, f),
                *self._trainer(f),
            )
        )
        return await self._grouped(statement, dim)

    async def _sessions(self, f: Filters, dim: Dimension | None) -> dict[Any, Any]:
        scope = self._sessions_scope(f, dim).subquery()
        statement = self._select(
            dim,
            scope.c.key,
            func.count(),
            func.coalesce(func.sum(scope.c.participants), 0),
            func.coalesce(func.sum(scope.c.participants_female), 0),
            func.coalesce(func.sum(scope.c.participants_male), 0),
            func.coalesce(func.sum(scope.c.feedback_responses), 0),
            func.coalesce(func.sum(scope.c.average_rating * scope.c.feedback_responses), 0.0),
        )
        return await self._grouped(statement, dim)

    async def _milestones(self, f: Filters, dim: Dimension | None) -> dict[Any, Any]:
        school = case((M.c.subject_type == "school", M.c.subject_id), else_=T.c.school_id)
        key = self._key(dim, school=school, day=M.c.reached_on)
        source = M.outerjoin(
            T,
            and_(
                M.c.subject_type == "trainer",
                self._trainer_of(M.c.subject_id),
            ),
        ).outerjoin(S, self._school_of(school))
        conditions = [
            M.c.generation == self.generation,
            *self._period(M.c.reached_on, f),
            *self._school(school, f),
            *self._trainer(f),
        ]
        # A programme milestone belongs to no school, a school's to no trainer category.
        if dim in ("district", "school"):
            conditions.append(school.is_not(None))
        elif dim in ("grade", "gender"):
            conditions.append(M.c.subject_type == "trainer")
        statement = self._select(dim, key, func.count()).select_from(source).where(*conditions)
        return await self._grouped(statement, dim)

    async def _schools(self, f: Filters, dim: Dimension | None) -> dict[Any, Any]:
        enrolled = (
            select(
                self._key(dim, school=T.c.school_id, day=T.c.enrolled_on).label("key"),
                T.c.school_id.label("school_id"),
            )
            .select_from(T.outerjoin(S, self._school_of(T.c.school_id)))
            .where(
                T.c.generation == self.generation,
                T.c.school_id.is_not(None),
                *self._period(T.c.enrolled_on, f),
                *self._school(T.c.school_id, f),
                *self._trainer(f),
            )
        )
        delivering = self._sessions_scope(f, dim).subquery()
        either = union_all(enrolled, select(delivering.c.key, delivering.c.school_id)).subquery()
        statement = self._select(dim, either.c.key, func.count(either.c.school_id.distinct()))
        return await self._grouped(statement, dim)

    async def _peers_by_grade(self, f: Filters, dim: Dimension | None) -> dict[Any, dict[int, int]]:
        scope = self._sessions_scope(f, dim).subquery()
        columns: list[Any] = [SP.c.grade, func.sum(SP.c.participants)]
        if dim is not None:
            columns.insert(0, scope.c.key)
        statement = (
            select(*columns)
            .select_from(SP.join(scope, SP.c.session_id == scope.c.session_id))
            .where(SP.c.generation == self.generation)
            .group_by(*columns[:-1])
        )
        found: dict[Any, dict[int, int]] = {}
        for row in (await self.session.execute(statement)).all():
            row_key = row[0] if dim is not None else ALL
            grade, n = row[-2], row[-1]
            found.setdefault(row_key, {})[int(grade)] = int(n)
        return found

    # -- what the routes ask -----------------------------------------------------------------

    async def totals(self, f: Filters, dim: Dimension | None = None) -> dict[Any, Totals]:
        """Every measure, for the whole selection (key ``ALL``) or by ``dim``."""
        rows: dict[Any, Totals] = {}

        def row(key: Any) -> Totals:
            return rows.setdefault(key, Totals())

        for key, (n,) in (await self._schools(f, dim)).items():
            row(key).schools_participating = int(n)
        for key, (n,) in (await self._trainers_on(T.c.enrolled_on, f, dim)).items():
            row(key).trainers_enrolled = int(n)
        for key, (n,) in (await self._trainers_on(T.c.withdrawn_on, f, dim)).items():
            row(key).trainers_withdrawn = int(n)
        for key, (n,) in (await self._certified(f, dim)).items():
            row(key).trainers_certified = int(n)
        for key, (n,) in (await self._active(f, dim)).items():
            row(key).trainers_active = int(n)
        for key, (n, total, female, male, responses, points) in (
            await self._sessions(f, dim)
        ).items():
            target = row(key)
            target.sessions_delivered = int(n)
            target.peer_participations = int(total)
            target.peers_female = int(female)
            target.peers_male = int(male)
            target.feedback_responses = int(responses)
            target.rating_points = float(points)
        for key, (n,) in (await self._milestones(f, dim)).items():
            row(key).milestones_reached = int(n)
        for key, by_grade in (await self._peers_by_grade(f, dim)).items():
            row(key).peers_by_grade = dict(sorted(by_grade.items()))
        return rows

    async def overall(self, f: Filters) -> Totals:
        return (await self.totals(f)).get(ALL, Totals())

    async def trainers_by_grade_and_gender(self, f: Filters) -> dict[tuple[int, str], int]:
        """Trainers enrolled under the filters, by (grade, gender)."""
        statement = (
            select(T.c.grade, T.c.gender, func.count())
            .select_from(T.outerjoin(S, self._school_of(T.c.school_id)))
            .where(
                T.c.generation == self.generation,
                T.c.grade.is_not(None),
                *self._period(T.c.enrolled_on, f),
                *self._school(T.c.school_id, f),
                *self._trainer(f),
            )
            .group_by(T.c.grade, T.c.gender)
        )
        return {
            (int(grade), str(gender)): int(n)
            for grade, gender, n in (await self.session.execute(statement)).all()
        }

    async def schools(self, school_id: uuid.UUID | None = None) -> list[SchoolRow]:
        statement = (
            select(S.c.school_id, S.c.name, S.c.district, S.c.registered_at)
            .where(S.c.generation == self.generation)
            .order_by(S.c.district, S.c.name)
        )
        if school_id is not None:
            statement = statement.where(S.c.school_id == school_id)
        return [SchoolRow(*row) for row in (await self.session.execute(statement)).all()]

    async def cohorts(self) -> list[CohortRow]:
        statement = (
            select(C.c.cohort_id, C.c.name, C.c.starts_on, C.c.ends_on)
            .where(C.c.generation == self.generation)
            .order_by(C.c.starts_on)
        )
        return [CohortRow(*row) for row in (await self.session.execute(statement)).all()]

    async def sessions(self, f: Filters) -> list[SessionRow]:
        """Delivered sessions under the filters, by day, with counts only."""
        scope = self._sessions_scope(f, None).subquery()
        facilitators = (
            select(func.count())
            .where(SF.c.generation == self.generation, SF.c.session_id == scope.c.session_id)
            .scalar_subquery()
        )
        statement = (
            select(
                SE.c.session_id,
                SE.c.delivered_on,
                SE.c.school_id,
                S.c.name,
                S.c.district,
                SE.c.topic_module_id,
                SE.c.language,
                SE.c.duration_minutes,
                facilitators,
                SE.c.participants,
                SE.c.participants_female,
                SE.c.participants_male,
                SE.c.feedback_responses,
                SE.c.average_rating,
            )
            .select_from(
                scope.join(
                    SE,
                    and_(
                        SE.c.generation == self.generation,
                        SE.c.session_id == scope.c.session_id,
                    ),
                ).outerjoin(S, self._school_of(SE.c.school_id))
            )
            .order_by(SE.c.delivered_on, SE.c.session_id)
        )
        rows = (await self.session.execute(statement)).all()
        grades = select(SP.c.session_id, SP.c.grade, SP.c.participants).where(
            SP.c.generation == self.generation,
            SP.c.session_id.in_(select(scope.c.session_id)),
        )
        by_session: dict[uuid.UUID, dict[int, int]] = {}
        for session_id, grade, count in (await self.session.execute(grades)).all():
            by_session.setdefault(session_id, {})[int(grade)] = int(count)
        return [
            SessionRow(
                session_id=r[0],
                delivered_on=r[1],
                school_id=r[2],
                school_name=r[3],
                district=r[4],
                topic_module_id=r[5],
                language=r[6],
                duration_minutes=r[7],
                facilitators=int(r[8]),
                participants=int(r[9] or 0),
                participants_female=int(r[10] or 0),
                participants_male=int(r[11] or 0),
                peers_by_grade=by_session.get(r[0], {}),
                feedback_responses=int(r[12] or 0),
                average_rating=r[13],
            )
            for r in rows
        ]
