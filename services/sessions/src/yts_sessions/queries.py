"""The sessions read side: progress, sessions and lists for the HTTP routes (no effects)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from yts_chassis.database import Database
from yts_chassis.paging import Slice, page
from yts_contracts.milestones import SubjectType

from yts_sessions.curriculum import Curriculum
from yts_sessions.domain import SessionStatus, is_certified
from yts_sessions.milestones import Count, Subject
from yts_sessions.store import (
    Counter,
    Milestone,
    ModuleCompletion,
    PeerSession,
    RosterTrainer,
    SessionFacilitator,
)
from yts_sessions.usecases import SessionRecord


@dataclass(frozen=True)
class Progress:
    trainer: RosterTrainer
    completions: list[ModuleCompletion]
    core_total: int
    core_completed: int
    certified: bool
    sessions_facilitated: int
    peer_participations: int
    milestones: list[Milestone]


async def enrolled_trainer(db: Database, trainer_id: uuid.UUID) -> RosterTrainer | None:
    async with db.session() as session:
        trainer = await session.get(RosterTrainer, trainer_id)
    if trainer is None or trainer.enrolled_at is None:
        return None
    return trainer


async def progress(db: Database, curriculum: Curriculum, trainer: RosterTrainer) -> Progress:
    trainer_id = trainer.trainer_id
    async with db.snapshot() as session:
        completions = list(
            (
                await session.execute(
                    select(ModuleCompletion)
                    .where(col(ModuleCompletion.trainer_id) == trainer_id)
                    .order_by(col(ModuleCompletion.completed_on), col(ModuleCompletion.module_id))
                )
            ).scalars()
        )
        counts = dict(
            (
                await session.execute(
                    select(col(Counter.name), col(Counter.value)).where(
                        col(Counter.subject) == Subject.trainer(trainer_id).key
                    )
                )
            ).all()
        )
        milestones = list(
            (
                await session.execute(
                    select(Milestone)
                    .where(
                        col(Milestone.subject_type) == SubjectType.TRAINER.value,
                        col(Milestone.subject_id) == trainer_id,
                    )
                    .order_by(col(Milestone.reached_at), col(Milestone.kind))
                )
            ).scalars()
        )
    done = {c.module_id for c in completions}
    core = curriculum.core_ids
    return Progress(
        trainer=trainer,
        completions=completions,
        core_total=len(core),
        core_completed=len(done & core),
        certified=is_certified(done, core),
        sessions_facilitated=int(counts.get(Count.SESSIONS_FACILITATED.value, 0)),
        peer_participations=int(counts.get(Count.PEER_PARTICIPATIONS.value, 0)),
        milestones=milestones,
    )


async def _facilitators(
    session: AsyncSession, session_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    rows = await session.execute(
        select(col(SessionFacilitator.session_id), col(SessionFacilitator.trainer_id))
        .where(col(SessionFacilitator.session_id).in_(session_ids))
        .order_by(col(SessionFacilitator.session_id), col(SessionFacilitator.position))
    )
    found: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for session_id, trainer_id in rows.all():
        found[session_id].append(trainer_id)
    return found


async def peer_session(db: Database, session_id: uuid.UUID) -> SessionRecord | None:
    async with db.snapshot() as session:
        peer = await session.get(PeerSession, session_id)
        if peer is None:
            return None
        facilitators = await _facilitators(session, [session_id])
    return SessionRecord(peer, facilitators[session_id])


async def peer_sessions(
    db: Database,
    *,
    school_id: uuid.UUID | None,
    trainer_id: uuid.UUID | None,
    status: SessionStatus | None,
    limit: int,
    offset: int,
) -> Slice[SessionRecord]:
    query = select(PeerSession)
    if school_id is not None:
        query = query.where(col(PeerSession.school_id) == school_id)
    if status is not None:
        query = query.where(col(PeerSession.status) == status.value)
    if trainer_id is not None:
        query = query.where(
            col(PeerSession.id).in_(
                select(col(SessionFacilitator.session_id)).where(
                    col(SessionFacilitator.trainer_id) == trainer_id
                )
            )
        )
    order = [col(PeerSession.created_at).desc(), col(PeerSession.id)]
    async with db.snapshot() as session:
        found = await page(session, query, order, limit, offset)
        facilitators = await _facilitators(session, [p.id for p in found.items])
    return Slice(
        items=[SessionRecord(p, facilitators[p.id]) for p in found.items],
        total=found.total,
    )
