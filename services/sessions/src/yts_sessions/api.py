"""Sessions' HTTP routes: parse, authorise, call a use case or a query. What the rules and use
cases refuse is answered as problem+json by ``yts_chassis.refusals``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from yts_chassis.auth import Principal, Role, ensure_school_access, require_roles, school_scope
from yts_chassis.errors import Problem
from yts_chassis.idempotency import idempotent_create
from yts_chassis.paging import Limit, Offset, Page
from yts_contracts.sessions import CancellationReason

from yts_sessions import queries, usecases
from yts_sessions.domain import SessionStatus
from yts_sessions.schemas import (
    CancellationIn,
    CompletedModuleOut,
    FeedbackOut,
    MilestoneOut,
    ModuleCompletionIn,
    ModuleCompletionOut,
    ModuleNamesOut,
    ModuleOut,
    ParticipantsOut,
    ProgressOut,
    SessionCompletionIn,
    SessionOut,
    SessionPlanIn,
)

# Partners read reports, not this service: only programme staff and coordinators.
Staff = Annotated[Principal, Depends(require_roles(Role.admin, Role.coordinator))]

PROBLEMS = {
    401: {"description": "no or unknown bearer token"},
    403: {"description": "the token's role or school does not allow this"},
    422: {"description": "bad input: the problem names the field and the rule"},
}


def session_out(record: usecases.SessionRecord) -> SessionOut:
    peer = record.session
    completed = peer.status == SessionStatus.completed.value
    return SessionOut(
        id=peer.id,
        school_id=peer.school_id,
        topic_module_id=peer.topic_module_id,
        language=peer.language,
        facilitator_ids=record.facilitator_ids,
        planned_on=peer.planned_on,
        status=SessionStatus(peer.status),
        created_at=peer.created_at,
        delivered_on=peer.delivered_on,
        duration_minutes=peer.duration_minutes,
        participants=ParticipantsOut(
            total=peer.participants_total or 0,
            female=peer.participants_female or 0,
            male=peer.participants_male or 0,
            by_grade=peer.participants_by_grade or {},
        )
        if completed
        else None,
        feedback=FeedbackOut(
            responses=peer.feedback_responses or 0,
            average_rating=peer.feedback_average_rating,
        )
        if completed
        else None,
        completed_at=peer.completed_at,
        cancellation_reason=CancellationReason(peer.cancellation_reason)
        if peer.cancellation_reason
        else None,
        cancellation_note=peer.cancellation_note,
        cancelled_at=peer.cancelled_at,
    )


def progress_out(found: queries.Progress) -> ProgressOut:
    trainer = found.trainer
    assert trainer.school_id is not None
    assert trainer.cohort_id is not None
    return ProgressOut(
        trainer_id=trainer.trainer_id,
        school_id=trainer.school_id,
        cohort_id=trainer.cohort_id,
        status=trainer.status,
        erased=trainer.erased_at is not None,
        modules_completed=[
            CompletedModuleOut(module_id=c.module_id, completed_on=c.completed_on)
            for c in found.completions
        ],
        core_modules_total=found.core_total,
        core_modules_completed=found.core_completed,
        certified=found.certified,
        sessions_facilitated=found.sessions_facilitated,
        peer_participations=found.peer_participations,
        milestones=[MilestoneOut.model_validate(m, from_attributes=True) for m in found.milestones],
    )


def build_router(deps: usecases.Deps) -> APIRouter:
    router = APIRouter(prefix="/v1", responses=PROBLEMS)  # type: ignore[arg-type]

    @router.get("/modules", tags=["curriculum"], summary="The curriculum's modules")
    async def list_modules(_: Staff) -> list[ModuleOut]:
        return [
            ModuleOut(
                id=m.id,
                core=m.core,
                names=ModuleNamesOut.model_validate(m.names, from_attributes=True),
            )
            for m in deps.curriculum.modules
        ]

    @router.post(
        "/trainers/{trainer_id}/module-completions",
        status_code=status.HTTP_201_CREATED,
        tags=["trainers"],
        summary="Record that a trainer completed a curriculum module",
        **idempotent_create({409: {"description": "the trainer already completed this module"}}),
    )
    async def complete_module(
        trainer_id: uuid.UUID, body: ModuleCompletionIn, principal: Staff
    ) -> ModuleCompletionOut:
        completion, certified = await usecases.complete_module(deps, trainer_id, body, principal)
        return ModuleCompletionOut(
            trainer_id=completion.trainer_id,
            module_id=completion.module_id,
            completed_on=completion.completed_on,
            certified=certified,
        )

    @router.get(
        "/trainers/{trainer_id}/progress",
        tags=["trainers"],
        summary="A trainer's modules, certification, sessions and milestones",
    )
    async def trainer_progress(trainer_id: uuid.UUID, principal: Staff) -> ProgressOut:
        trainer = await queries.enrolled_trainer(deps.db, trainer_id)
        if trainer is None:
            raise Problem(
                404,
                "Not found",
                f"No enrolled trainer with id {trainer_id}; if the enrolment was just "
                "recorded, its event may not have arrived yet.",
                kind="not-found",
            )
        assert trainer.school_id is not None
        ensure_school_access(principal, trainer.school_id)
        return progress_out(await queries.progress(deps.db, deps.curriculum, trainer))

    @router.post(
        "/sessions",
        status_code=status.HTTP_201_CREATED,
        tags=["sessions"],
        summary="Plan a peer session",
        **idempotent_create(),
    )
    async def plan_session(body: SessionPlanIn, principal: Staff) -> SessionOut:
        return session_out(await usecases.plan_session(deps, body, principal))

    @router.get("/sessions", tags=["sessions"], summary="List peer sessions")
    async def list_sessions(
        principal: Staff,
        school_id: uuid.UUID | None = None,
        trainer_id: Annotated[uuid.UUID | None, Query(description="a facilitator")] = None,
        status_: Annotated[SessionStatus | None, Query(alias="status")] = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> Page[SessionOut]:
        """Coordinators see their own school's sessions only."""
        school_id = school_scope(principal, school_id)
        found = await queries.peer_sessions(
            deps.db,
            school_id=school_id,
            trainer_id=trainer_id,
            status=status_,
            limit=limit,
            offset=offset,
        )
        return Page[SessionOut](
            items=[session_out(r) for r in found.items],
            total=found.total,
            limit=limit,
            offset=offset,
        )

    @router.get("/sessions/{session_id}", tags=["sessions"], summary="One peer session")
    async def get_session(session_id: uuid.UUID, principal: Staff) -> SessionOut:
        record = await queries.peer_session(deps.db, session_id)
        if record is None:
            raise Problem.not_found("peer session", session_id)
        ensure_school_access(principal, record.session.school_id)
        return session_out(record)

    @router.post(
        "/sessions/{session_id}/completion",
        tags=["sessions"],
        summary="Record that a planned peer session took place",
        responses={409: {"description": "the session is already completed or cancelled"}},
    )
    async def complete_session(
        session_id: uuid.UUID, body: SessionCompletionIn, principal: Staff
    ) -> SessionOut:
        return session_out(await usecases.complete_session(deps, session_id, body, principal))

    @router.post(
        "/sessions/{session_id}/cancellation",
        tags=["sessions"],
        summary="Cancel a planned peer session",
        responses={409: {"description": "the session is already completed or cancelled"}},
    )
    async def cancel_session(
        session_id: uuid.UUID, body: CancellationIn, principal: Staff
    ) -> SessionOut:
        """The reason, a code, is published to partners in `session.cancelled`; the note stays
        in this service (school and programme staff read it here) and is never published."""
        return session_out(await usecases.cancel_session(deps, session_id, body, principal))

    return router
