"""The sessions use cases: each writes its state, its event and the milestones that event
reaches in one transaction (outbox), or refuses with one of ``errors`` and writes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from yts_chassis.auth import Principal
from yts_chassis.database import Database
from yts_chassis.ids import new_id
from yts_chassis.outbox import Outbox
from yts_chassis.refusals import NotYourSchool
from yts_contracts.sessions import (
    Feedback,
    ModuleCompleted,
    Participants,
    SessionCancelled,
    SessionCompleted,
)

from yts_sessions import domain, milestones
from yts_sessions.curriculum import Curriculum
from yts_sessions.domain import CohortDates, SessionStatus, TrainerStatus
from yts_sessions.errors import (
    CohortDatesUnknown,
    FacilitatorNamedTwice,
    FacilitatorOfAnotherSchool,
    ModuleAlreadyCompleted,
    ModuleNotInCurriculum,
    NotCertified,
    PeerSessionNotKnown,
    SchoolNotRegistered,
    SessionNotPlanned,
    TrainerNotActive,
    TrainerNotEnrolled,
    enforce,
)
from yts_sessions.milestones import MilestoneEngine
from yts_sessions.schemas import (
    CancellationIn,
    ModuleCompletionIn,
    SessionCompletionIn,
    SessionPlanIn,
)
from yts_sessions.store import (
    ModuleCompletion,
    PeerSession,
    RosterCohort,
    RosterSchool,
    RosterTrainer,
    SessionFacilitator,
)


@dataclass(frozen=True)
class Deps:
    db: Database
    outbox: Outbox
    curriculum: Curriculum
    milestones: MilestoneEngine
    timezone: ZoneInfo

    def today(self) -> date:
        """Today in the programme's calendar (Almaty), not the server's."""
        return datetime.now(self.timezone).date()


@dataclass(frozen=True)
class SessionRecord:
    session: PeerSession
    facilitator_ids: list[uuid.UUID]


def _now() -> datetime:
    return datetime.now(UTC)


def _ensure_may_act_for(principal: Principal, school_id: uuid.UUID) -> None:
    if not principal.may_act_for_school(school_id):
        raise NotYourSchool(school_id)


async def _roster_trainer(session: AsyncSession, trainer_id: uuid.UUID) -> RosterTrainer:
    trainer = await session.get(RosterTrainer, trainer_id)
    if trainer is None or trainer.enrolled_at is None or trainer.school_id is None:
        raise TrainerNotEnrolled("trainer_id", trainer_id)
    return trainer


async def _completed_core(
    session: AsyncSession, deps: Deps, trainer_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, set[str]]:
    rows = await session.execute(
        select(col(ModuleCompletion.trainer_id), col(ModuleCompletion.module_id)).where(
            col(ModuleCompletion.trainer_id).in_(trainer_ids),
            col(ModuleCompletion.module_id).in_(deps.curriculum.core_ids),
        )
    )
    done: dict[uuid.UUID, set[str]] = {t: set() for t in trainer_ids}
    for trainer_id, module_id in rows.all():
        done[trainer_id].add(module_id)
    return done


# -- module completions ---------------------------------------------------------------------


async def complete_module(
    deps: Deps,
    trainer_id: uuid.UUID,
    cmd: ModuleCompletionIn,
    principal: Principal,
    today: date | None = None,
) -> tuple[ModuleCompletion, bool]:
    """Record that a trainer completed a module; returns it and whether the trainer is now
    certified."""
    today = today or deps.today()
    completed_on = cmd.completed_on or today
    async with deps.db.transaction() as session:
        trainer = await _roster_trainer(session, trainer_id)
        school_id = cast(uuid.UUID, trainer.school_id)
        _ensure_may_act_for(principal, school_id)
        module = deps.curriculum.get(cmd.module_id)
        if module is None:
            raise ModuleNotInCurriculum("module_id", cmd.module_id)
        of_cohort = (
            await session.get(RosterCohort, trainer.cohort_id)
            if trainer.cohort_id is not None
            else None
        )
        (cohort,) = _cohort_dates([(trainer, of_cohort)], "completed_on")
        enforce(domain.completed_on_breach(completed_on, today, cohort))
        if trainer.status != TrainerStatus.active.value:
            raise TrainerNotActive.completing_a_module(trainer_id)
        if await session.get(ModuleCompletion, (trainer_id, module.id)) is not None:
            raise ModuleAlreadyCompleted(module.id)
        envelope = await deps.outbox.add(
            session,
            ModuleCompleted(
                trainer_id=trainer_id,
                school_id=school_id,
                module_id=module.id,
                completed_on=completed_on,
            ),
        )
        completion = ModuleCompletion(
            trainer_id=trainer_id,
            module_id=module.id,
            school_id=school_id,
            completed_on=completed_on,
            recorded_at=_now(),
            event_id=envelope.event_id,
        )
        session.add(completion)
        try:
            await session.flush()
        except IntegrityError as exc:  # a concurrent request recorded it first
            raise ModuleAlreadyCompleted(module.id) from exc
        increments = milestones.module_increments(trainer_id, module.core)
        await deps.milestones.advance(session, increments, envelope.event_id, completed_on)
        done = await _completed_core(session, deps, [trainer_id])
        certified = domain.is_certified(done[trainer_id], deps.curriculum.core_ids)
    return completion, certified


# -- peer sessions ----------------------------------------------------------------------------


def _topic(deps: Deps, module_id: str) -> str:
    if deps.curriculum.get(module_id) is None:
        raise ModuleNotInCurriculum("topic_module_id", module_id)
    return module_id


async def _check_facilitators(
    session: AsyncSession,
    deps: Deps,
    school_id: uuid.UUID,
    facilitator_ids: Sequence[uuid.UUID],
) -> list[tuple[RosterTrainer, RosterCohort | None]]:
    """Facilitators are 1 to 3 distinct trainers, enrolled, active, of the session's school and
    certified; returns their roster rows, each with their cohort, in the order given. One
    query: each trainer with their cohort and how many core modules they completed."""
    if len(set(facilitator_ids)) != len(facilitator_ids):
        raise FacilitatorNamedTwice()
    core = deps.curriculum.core_ids
    core_done = (
        select(func.count())
        .where(
            col(ModuleCompletion.trainer_id) == col(RosterTrainer.trainer_id),
            col(ModuleCompletion.module_id).in_(core),
        )
        .scalar_subquery()
    )
    rows = await session.execute(
        select(RosterTrainer, RosterCohort, core_done)
        .outerjoin(RosterCohort, col(RosterCohort.cohort_id) == col(RosterTrainer.cohort_id))
        .where(col(RosterTrainer.trainer_id).in_(facilitator_ids))
    )
    known = {trainer.trainer_id: (trainer, cohort, done) for trainer, cohort, done in rows.all()}
    trainers: list[tuple[RosterTrainer, RosterCohort | None]] = []
    for trainer_id in facilitator_ids:
        trainer, cohort, _ = known.get(trainer_id, (None, None, 0))
        if trainer is None or trainer.enrolled_at is None:
            raise TrainerNotEnrolled("facilitator_ids", trainer_id)
        if trainer.status != TrainerStatus.active.value:
            raise TrainerNotActive.facilitating(trainer_id)
        if trainer.school_id != school_id:
            raise FacilitatorOfAnotherSchool(trainer_id)
        trainers.append((trainer, cohort))
    for trainer_id in facilitator_ids:
        done = int(known[trainer_id][2])
        if not domain.is_certified_by_count(done, len(core)):
            raise NotCertified(trainer_id, done, len(core))
    return trainers


async def plan_session(deps: Deps, cmd: SessionPlanIn, principal: Principal) -> SessionRecord:
    _ensure_may_act_for(principal, cmd.school_id)
    topic = _topic(deps, cmd.topic_module_id)
    async with deps.db.transaction() as session:
        if await session.get(RosterSchool, cmd.school_id) is None:
            raise SchoolNotRegistered(cmd.school_id)
        trainers = await _check_facilitators(session, deps, cmd.school_id, cmd.facilitator_ids)
        if cmd.planned_on is not None:
            cohorts = _cohort_dates(trainers, "planned_on")
            enforce(domain.planned_on_breach(cmd.planned_on, cohorts))
        peer = PeerSession(
            id=new_id(),
            school_id=cmd.school_id,
            topic_module_id=topic,
            language=cmd.language,
            planned_on=cmd.planned_on,
            status=SessionStatus.planned.value,
            created_at=_now(),
        )
        session.add(peer)
        await session.flush()
        _add_facilitators(session, peer.id, cmd.facilitator_ids)
    return SessionRecord(peer, list(cmd.facilitator_ids))


def _add_facilitators(
    session: AsyncSession, session_id: uuid.UUID, facilitator_ids: Sequence[uuid.UUID]
) -> None:
    session.add_all(
        SessionFacilitator(session_id=session_id, trainer_id=trainer_id, position=position)
        for position, trainer_id in enumerate(facilitator_ids)
    )


async def _planned_session(
    session: AsyncSession, session_id: uuid.UUID, principal: Principal
) -> tuple[PeerSession, list[uuid.UUID]]:
    """The session, still planned, and its facilitators in the order named (one query)."""
    rows = (
        await session.execute(
            select(PeerSession, col(SessionFacilitator.trainer_id))
            .outerjoin(
                SessionFacilitator, col(SessionFacilitator.session_id) == col(PeerSession.id)
            )
            .where(col(PeerSession.id) == session_id)
            .order_by(col(SessionFacilitator.position))
        )
    ).all()
    if not rows:
        raise PeerSessionNotKnown(session_id)
    peer = rows[0][0]
    _ensure_may_act_for(principal, peer.school_id)
    if peer.status != SessionStatus.planned.value:
        raise SessionNotPlanned(peer.status)
    return peer, [trainer_id for _, trainer_id in rows if trainer_id is not None]


async def _settle_planned(
    session: AsyncSession, session_id: uuid.UUID, values: dict[str, Any]
) -> PeerSession:
    """Move a planned session on, only if it is still planned: of two concurrent requests,
    one changes the row and the other gets a conflict (``SessionNotPlanned``). Returns the
    session as it now is (the statement returns the row: no second read)."""
    changed = (
        await session.execute(
            update(PeerSession)
            .where(
                col(PeerSession.id) == session_id,
                col(PeerSession.status) == SessionStatus.planned.value,
            )
            .values(**values)
            .returning(PeerSession),
            execution_options={"populate_existing": True},
        )
    ).scalar_one_or_none()
    if changed is None:
        raise SessionNotPlanned("completed or cancelled")
    return changed


async def complete_session(
    deps: Deps,
    session_id: uuid.UUID,
    cmd: SessionCompletionIn,
    principal: Principal,
    today: date | None = None,
) -> SessionRecord:
    today = today or deps.today()
    participants = cmd.participants
    async with deps.db.transaction() as session:
        peer, planned = await _planned_session(session, session_id, principal)
        facilitator_ids = list(cmd.facilitator_ids or planned)
        enforce(
            domain.participants_breach(
                participants.total, participants.female, participants.male, participants.by_grade
            )
        )
        enforce(
            domain.feedback_breach(
                cmd.feedback.responses, cmd.feedback.average_rating, participants.total
            )
        )
        trainers = await _check_facilitators(session, deps, peer.school_id, facilitator_ids)
        cohorts = _cohort_dates(trainers, "delivered_on")
        enforce(domain.delivered_on_breach(cmd.delivered_on, today, cohorts))
        completed_at = _now()
        language = cmd.language or peer.language
        peer = await _settle_planned(
            session,
            session_id,
            {
                "status": SessionStatus.completed.value,
                "language": language,
                "delivered_on": cmd.delivered_on,
                "duration_minutes": cmd.duration_minutes,
                "participants_total": participants.total,
                "participants_female": participants.female,
                "participants_male": participants.male,
                "participants_by_grade": dict(participants.by_grade),
                "feedback_responses": cmd.feedback.responses,
                "feedback_average_rating": cmd.feedback.average_rating,
                "completed_at": completed_at,
            },
        )
        if facilitator_ids != planned:
            await session.execute(
                delete(SessionFacilitator).where(col(SessionFacilitator.session_id) == session_id)
            )
            _add_facilitators(session, session_id, facilitator_ids)
        envelope = await deps.outbox.add(
            session,
            SessionCompleted(
                session_id=session_id,
                school_id=peer.school_id,
                facilitator_ids=facilitator_ids,
                topic_module_id=peer.topic_module_id,
                language=language,
                delivered_on=cmd.delivered_on,
                duration_minutes=cmd.duration_minutes,
                participants=Participants(
                    total=participants.total,
                    female=participants.female,
                    male=participants.male,
                    by_grade=dict(participants.by_grade),
                ),
                feedback=Feedback(
                    responses=cmd.feedback.responses,
                    average_rating=cmd.feedback.average_rating,
                ),
            ),
        )
        increments = milestones.session_increments(
            peer.school_id, facilitator_ids, participants.total
        )
        await deps.milestones.advance(session, increments, envelope.event_id, cmd.delivered_on)
    return SessionRecord(peer, facilitator_ids)


def _cohort_dates(
    trainers: Sequence[tuple[RosterTrainer, RosterCohort | None]], field: str
) -> list[CohortDates]:
    """The dates of each trainer's cohort, which bound the day given in ``field``."""
    dates: list[CohortDates] = []
    for trainer, cohort in trainers:
        if cohort is None:
            raise CohortDatesUnknown(field, trainer.trainer_id)
        dates.append((cohort.starts_on, cohort.ends_on))
    return dates


async def cancel_session(
    deps: Deps, session_id: uuid.UUID, cmd: CancellationIn, principal: Principal
) -> SessionRecord:
    async with deps.db.transaction() as session:
        peer, facilitator_ids = await _planned_session(session, session_id, principal)
        cancelled_at = _now()
        peer = await _settle_planned(
            session,
            session_id,
            {
                "status": SessionStatus.cancelled.value,
                "cancellation_reason": cmd.reason.value,
                # The note stays here: the event carries the code only.
                "cancellation_note": cmd.note or None,
                "cancelled_at": cancelled_at,
            },
        )
        await deps.outbox.add(
            session,
            SessionCancelled(
                session_id=session_id,
                school_id=peer.school_id,
                reason=cmd.reason,
                cancelled_at=cancelled_at,
            ),
        )
    return SessionRecord(peer, facilitator_ids)
