"""The sessions export's rows: every session delivered under the filters (the very sessions
the indicators count), with counts only: no trainer ids, no names."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, func, select
from yts_chassis.database import Database

from yts_reporting.filters import Filters
from yts_reporting.indicators import ReadModel, snapshot
from yts_reporting.store import facilitators, peers, schools, sessions


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


async def session_rows(db: Database, filters: Filters) -> list[SessionRow]:
    """Delivered sessions under the filters, by day, read in one snapshot."""
    async with snapshot(db) as read_model:
        return await _listed(read_model, filters)


async def _listed(read_model: ReadModel, filters: Filters) -> list[SessionRow]:
    """Delivered sessions under the filters, by day, with counts only."""
    generation = read_model.generation
    delivered = read_model.delivered_sessions(filters).subquery()
    facilitator_count = (
        select(func.count())
        .where(
            facilitators.c.generation == generation,
            facilitators.c.session_id == delivered.c.session_id,
        )
        .scalar_subquery()
    )
    statement = (
        select(
            sessions.c.session_id,
            sessions.c.delivered_on,
            sessions.c.school_id,
            schools.c.name,
            schools.c.district,
            sessions.c.topic_module_id,
            sessions.c.language,
            sessions.c.duration_minutes,
            facilitator_count,
            sessions.c.participants,
            sessions.c.participants_female,
            sessions.c.participants_male,
            sessions.c.feedback_responses,
            sessions.c.average_rating,
        )
        .select_from(
            delivered.join(
                sessions,
                and_(
                    sessions.c.generation == generation,
                    sessions.c.session_id == delivered.c.session_id,
                ),
            ).outerjoin(
                schools,
                and_(
                    schools.c.generation == generation, schools.c.school_id == sessions.c.school_id
                ),
            )
        )
        .order_by(sessions.c.delivered_on, sessions.c.session_id)
    )
    rows = (await read_model.session.execute(statement)).all()
    grades = select(peers.c.session_id, peers.c.grade, peers.c.participants).where(
        peers.c.generation == generation,
        peers.c.session_id.in_(select(delivered.c.session_id)),
    )
    by_session: dict[uuid.UUID, dict[int, int]] = {}
    for session_id, grade, count in (await read_model.session.execute(grades)).all():
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
