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
from dataclasses import dataclass, field
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
from yts_chassis.database import Database

from yts_reporting import generations
from yts_reporting.filters import Filters
from yts_reporting.store import (
    cohorts,
    facilitators,
    milestones,
    peers,
    schools,
    sessions,
    trainers,
)

Dimension = Literal["district", "school", "grade", "gender", "month"]
DIMENSIONS: tuple[Dimension, ...] = ("district", "school", "grade", "gender", "month")
ALL = "all"
CERTIFIED = "trainer.certified"
# The indicators, in the order every view lists them: the API, the dashboard, the workbook.
MEASURES = (
    "schools_participating",
    "trainers_enrolled",
    "trainers_certified",
    "trainers_active",
    "trainers_withdrawn",
    "sessions_delivered",
    "peer_participations",
    "average_rating",
    "milestones_reached",
)


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


@asynccontextmanager
async def snapshot(db: Database) -> AsyncIterator[ReadModel]:
    """The served generation's read model; every read of one request sees one snapshot, so
    the indicators of a page agree with each other."""
    async with db.snapshot() as session:
        generation = await generations.served(session)
        yield ReadModel(session, generation, postgres=not db.is_sqlite)


class ReadModel:
    """One generation of the read models, as one snapshot sees it: the indicators counted over
    it, each measure broken down by at most one dimension, and the schools and cohorts it
    knows."""

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
    def _in_period(day: Any, filters: Filters) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = [day.is_not(None)]
        if filters.start is not None:
            conditions.append(day >= filters.start)
        if filters.end is not None:
            conditions.append(day <= filters.end)
        return conditions

    @staticmethod
    def _school_filters(school: Any, filters: Filters) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if filters.school_id is not None:
            conditions.append(school == filters.school_id)
        if filters.district is not None:
            conditions.append(schools.c.district == filters.district)
        return conditions

    @staticmethod
    def _trainer_filters(filters: Filters) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if filters.cohort_id is not None:
            conditions.append(trainers.c.cohort_id == filters.cohort_id)
        if filters.grade is not None:
            conditions.append(trainers.c.grade == filters.grade)
        if filters.gender is not None:
            conditions.append(trainers.c.gender == filters.gender)
        return conditions

    def _school_of(self, school: Any) -> Any:
        return and_(schools.c.generation == self.generation, schools.c.school_id == school)

    def _trainer_of(self, trainer: Any) -> Any:
        return and_(trainers.c.generation == self.generation, trainers.c.trainer_id == trainer)

    def _key(self, dimension: Dimension | None, *, school: Any, day: Any) -> ColumnElement[Any]:
        if dimension is None:
            return literal(ALL)
        if dimension == "district":
            return schools.c.district
        if dimension == "school":
            return school
        if dimension == "month":
            return self._month(day)
        return trainers.c.grade if dimension == "grade" else trainers.c.gender

    @staticmethod
    def _select(dimension: Dimension | None, key: Any, *aggregates: Any) -> Select[Any]:
        """SELECT key, aggregates ... GROUP BY key; without a dimension, the aggregates only."""
        if dimension is None:
            return select(*aggregates)
        # GROUP BY the first column by position: PostgreSQL would not match an expression
        # with bound parameters (to_char(day, $1)) to the same one in the select list.
        return select(key, *aggregates).group_by(literal_column("1"))

    async def _grouped(self, statement: Select[Any], dimension: Dimension | None) -> dict[Any, Any]:
        rows = (await self.session.execute(statement)).all()
        if dimension is None:
            return {ALL: tuple(rows[0])} if rows else {}
        return {row[0]: tuple(row[1:]) for row in rows}

    def _delivered(self) -> list[ColumnElement[bool]]:
        return [
            sessions.c.generation == self.generation,
            sessions.c.delivered_on.is_not(None),
            sessions.c.cancelled_at.is_(None),
        ]

    def delivered_sessions(
        self, filters: Filters, dimension: Dimension | None = None
    ) -> Select[Any]:
        """The sessions delivered under the filters, one row per (session, key): what the
        session measures count, and what the sessions export lists."""
        key: ColumnElement[Any]
        source: Any = sessions.outerjoin(schools, self._school_of(sessions.c.school_id))
        conditions = [
            *self._delivered(),
            *self._in_period(sessions.c.delivered_on, filters),
            *self._school_filters(sessions.c.school_id, filters),
        ]
        if dimension in ("grade", "gender"):
            # A session belongs to the grade (gender) of each matching trainer who ran it.
            column = trainers.c.grade if dimension == "grade" else trainers.c.gender
            by_trainer = (
                select(facilitators.c.session_id, column.label("key"))
                .distinct()
                .select_from(
                    facilitators.join(trainers, self._trainer_of(facilitators.c.trainer_id))
                )
                .where(
                    facilitators.c.generation == self.generation, *self._trainer_filters(filters)
                )
                .subquery()
            )
            source = source.join(by_trainer, by_trainer.c.session_id == sessions.c.session_id)
            key = by_trainer.c.key
        else:
            if filters.on_trainers:
                conditions.append(
                    exists(
                        select(literal(1))
                        .select_from(
                            facilitators.join(trainers, self._trainer_of(facilitators.c.trainer_id))
                        )
                        .where(
                            facilitators.c.generation == self.generation,
                            facilitators.c.session_id == sessions.c.session_id,
                            *self._trainer_filters(filters),
                        )
                    )
                )
            key = self._key(dimension, school=sessions.c.school_id, day=sessions.c.delivered_on)
        return (
            select(
                key.label("key"),
                sessions.c.session_id,
                sessions.c.school_id,
                sessions.c.participants,
                sessions.c.participants_female,
                sessions.c.participants_male,
                sessions.c.feedback_responses,
                sessions.c.average_rating,
            )
            .select_from(source)
            .where(*conditions)
        )

    # -- measures ----------------------------------------------------------------------------

    async def _trainers_on(
        self, day: Any, filters: Filters, dimension: Dimension | None
    ) -> dict[Any, Any]:
        key = self._key(dimension, school=trainers.c.school_id, day=day)
        statement = (
            self._select(dimension, key, func.count())
            .select_from(trainers.outerjoin(schools, self._school_of(trainers.c.school_id)))
            .where(
                trainers.c.generation == self.generation,
                *self._in_period(day, filters),
                *self._school_filters(trainers.c.school_id, filters),
                *self._trainer_filters(filters),
            )
        )
        return await self._grouped(statement, dimension)

    async def _trainers_certified(
        self, filters: Filters, dimension: Dimension | None
    ) -> dict[Any, Any]:
        key = self._key(dimension, school=trainers.c.school_id, day=milestones.c.reached_on)
        source = milestones.outerjoin(
            trainers, self._trainer_of(milestones.c.subject_id)
        ).outerjoin(schools, self._school_of(trainers.c.school_id))
        statement = (
            self._select(dimension, key, func.count())
            .select_from(source)
            .where(
                milestones.c.generation == self.generation,
                milestones.c.kind == CERTIFIED,
                *self._in_period(milestones.c.reached_on, filters),
                *self._school_filters(trainers.c.school_id, filters),
                *self._trainer_filters(filters),
            )
        )
        return await self._grouped(statement, dimension)

    async def _trainers_active(
        self, filters: Filters, dimension: Dimension | None
    ) -> dict[Any, Any]:
        key = self._key(dimension, school=sessions.c.school_id, day=sessions.c.delivered_on)
        source = (
            facilitators.join(
                sessions,
                and_(
                    sessions.c.generation == facilitators.c.generation,
                    sessions.c.session_id == facilitators.c.session_id,
                ),
            )
            .outerjoin(trainers, self._trainer_of(facilitators.c.trainer_id))
            .outerjoin(schools, self._school_of(sessions.c.school_id))
        )
        statement = (
            self._select(dimension, key, func.count(facilitators.c.trainer_id.distinct()))
            .select_from(source)
            .where(
                facilitators.c.generation == self.generation,
                *self._delivered(),
                *self._in_period(sessions.c.delivered_on, filters),
                *self._school_filters(sessions.c.school_id, filters),
                *self._trainer_filters(filters),
            )
        )
        return await self._grouped(statement, dimension)

    async def _sessions_delivered(
        self, filters: Filters, dimension: Dimension | None
    ) -> dict[Any, Any]:
        scope = self.delivered_sessions(filters, dimension).subquery()
        statement = self._select(
            dimension,
            scope.c.key,
            func.count(),
            func.coalesce(func.sum(scope.c.participants), 0),
            func.coalesce(func.sum(scope.c.participants_female), 0),
            func.coalesce(func.sum(scope.c.participants_male), 0),
            func.coalesce(func.sum(scope.c.feedback_responses), 0),
            func.coalesce(func.sum(scope.c.average_rating * scope.c.feedback_responses), 0.0),
        )
        return await self._grouped(statement, dimension)

    async def _milestones_reached(
        self, filters: Filters, dimension: Dimension | None
    ) -> dict[Any, Any]:
        school = case(
            (milestones.c.subject_type == "school", milestones.c.subject_id),
            else_=trainers.c.school_id,
        )
        key = self._key(dimension, school=school, day=milestones.c.reached_on)
        source = milestones.outerjoin(
            trainers,
            and_(
                milestones.c.subject_type == "trainer",
                self._trainer_of(milestones.c.subject_id),
            ),
        ).outerjoin(schools, self._school_of(school))
        conditions = [
            milestones.c.generation == self.generation,
            *self._in_period(milestones.c.reached_on, filters),
            *self._school_filters(school, filters),
            *self._trainer_filters(filters),
        ]
        # A programme milestone belongs to no school, a school's to no trainer category.
        if dimension in ("district", "school"):
            conditions.append(school.is_not(None))
        elif dimension in ("grade", "gender"):
            conditions.append(milestones.c.subject_type == "trainer")
        statement = (
            self._select(dimension, key, func.count()).select_from(source).where(*conditions)
        )
        return await self._grouped(statement, dimension)

    async def _schools_participating(
        self, filters: Filters, dimension: Dimension | None
    ) -> dict[Any, Any]:
        key = self._key(dimension, school=trainers.c.school_id, day=trainers.c.enrolled_on)
        enrolled = (
            select(key.label("key"), trainers.c.school_id.label("school_id"))
            .select_from(trainers.outerjoin(schools, self._school_of(trainers.c.school_id)))
            .where(
                trainers.c.generation == self.generation,
                trainers.c.school_id.is_not(None),
                *self._in_period(trainers.c.enrolled_on, filters),
                *self._school_filters(trainers.c.school_id, filters),
                *self._trainer_filters(filters),
            )
        )
        delivering = self.delivered_sessions(filters, dimension).subquery()
        either = union_all(enrolled, select(delivering.c.key, delivering.c.school_id)).subquery()
        statement = self._select(dimension, either.c.key, func.count(either.c.school_id.distinct()))
        return await self._grouped(statement, dimension)

    async def _peers_by_grade(
        self, filters: Filters, dimension: Dimension | None
    ) -> dict[Any, dict[int, int]]:
        scope = self.delivered_sessions(filters, dimension).subquery()
        columns: list[Any] = [peers.c.grade, func.sum(peers.c.participants)]
        if dimension is not None:
            columns.insert(0, scope.c.key)
        statement = (
            select(*columns)
            .select_from(peers.join(scope, peers.c.session_id == scope.c.session_id))
            .where(peers.c.generation == self.generation)
            .group_by(*columns[:-1])
        )
        found: dict[Any, dict[int, int]] = {}
        for row in (await self.session.execute(statement)).all():
            row_key = row[0] if dimension is not None else ALL
            grade, n = row[-2], row[-1]
            found.setdefault(row_key, {})[int(grade)] = int(n)
        return found

    # -- what the routes ask -----------------------------------------------------------------

    async def totals(
        self, filters: Filters, dimension: Dimension | None = None
    ) -> dict[Any, Totals]:
        """Every measure, for the whole selection (key ``ALL``) or by ``dimension``."""
        rows: dict[Any, Totals] = {}

        def row(key: Any) -> Totals:
            return rows.setdefault(key, Totals())

        for key, (n,) in (await self._schools_participating(filters, dimension)).items():
            row(key).schools_participating = int(n)
        for key, (n,) in (
            await self._trainers_on(trainers.c.enrolled_on, filters, dimension)
        ).items():
            row(key).trainers_enrolled = int(n)
        for key, (n,) in (
            await self._trainers_on(trainers.c.withdrawn_on, filters, dimension)
        ).items():
            row(key).trainers_withdrawn = int(n)
        for key, (n,) in (await self._trainers_certified(filters, dimension)).items():
            row(key).trainers_certified = int(n)
        for key, (n,) in (await self._trainers_active(filters, dimension)).items():
            row(key).trainers_active = int(n)
        for key, (n, total, female, male, responses, points) in (
            await self._sessions_delivered(filters, dimension)
        ).items():
            target = row(key)
            target.sessions_delivered = int(n)
            target.peer_participations = int(total)
            target.peers_female = int(female)
            target.peers_male = int(male)
            target.feedback_responses = int(responses)
            target.rating_points = float(points)
        for key, (n,) in (await self._milestones_reached(filters, dimension)).items():
            row(key).milestones_reached = int(n)
        for key, by_grade in (await self._peers_by_grade(filters, dimension)).items():
            row(key).peers_by_grade = dict(sorted(by_grade.items()))
        return rows

    async def overall(self, filters: Filters) -> Totals:
        return (await self.totals(filters)).get(ALL, Totals())

    async def trainers_by_grade_and_gender(self, filters: Filters) -> dict[tuple[int, str], int]:
        """Trainers enrolled under the filters, by (grade, gender)."""
        statement = (
            select(trainers.c.grade, trainers.c.gender, func.count())
            .select_from(trainers.outerjoin(schools, self._school_of(trainers.c.school_id)))
            .where(
                trainers.c.generation == self.generation,
                trainers.c.grade.is_not(None),
                *self._in_period(trainers.c.enrolled_on, filters),
                *self._school_filters(trainers.c.school_id, filters),
                *self._trainer_filters(filters),
            )
            .group_by(trainers.c.grade, trainers.c.gender)
        )
        return {
            (int(grade), str(gender)): int(n)
            for grade, gender, n in (await self.session.execute(statement)).all()
        }

    async def schools(self, school_id: uuid.UUID | None = None) -> list[SchoolRow]:
        statement = (
            select(schools.c.school_id, schools.c.name, schools.c.district, schools.c.registered_at)
            .where(schools.c.generation == self.generation)
            .order_by(schools.c.district, schools.c.name)
        )
        if school_id is not None:
            statement = statement.where(schools.c.school_id == school_id)
        return [SchoolRow(*row) for row in (await self.session.execute(statement)).all()]

    async def cohorts(self) -> list[CohortRow]:
        statement = (
            select(cohorts.c.cohort_id, cohorts.c.name, cohorts.c.starts_on, cohorts.c.ends_on)
            .where(cohorts.c.generation == self.generation)
            .order_by(cohorts.c.starts_on)
        )
        return [CohortRow(*row) for row in (await self.session.execute(statement)).all()]
