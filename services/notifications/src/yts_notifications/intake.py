"""What each event changes here, inside the inbox transaction that records it: the replicas
(schools and their contacts, trainers as categories, peer sessions) and the deliveries it calls
for. Nothing is sent here: the engine sends once the transaction has committed."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from yts_chassis.consumer import EventHandler
from yts_chassis.database import upsert
from yts_chassis.logs import get_logger
from yts_contracts.enrolment import (
    CohortOpened,
    SchoolRegistered,
    TrainerEnrolled,
    TrainerErased,
    TrainerWithdrawn,
)
from yts_contracts.envelope import ReceivedEvent
from yts_contracts.milestones import MilestoneKind, MilestoneReached, SubjectType
from yts_contracts.private import SchoolContact
from yts_contracts.sessions import ModuleCompleted, SessionCancelled, SessionCompleted

from yts_notifications.domain import MILESTONE_MAIL_KINDS, RuleBroken, coordinator_address
from yts_notifications.planning import DeliveryPlanner, MailPlan
from yts_notifications.store import MailMessage, SchoolReplica, SessionReplica, TrainerReplica

log = get_logger(__name__)


class Intake:
    def __init__(self, planner: DeliveryPlanner) -> None:
        self.planner = planner

    # -- enrolment ---------------------------------------------------------------------------

    async def school_registered(self, session: AsyncSession, event: ReceivedEvent) -> None:
        data = event.data
        assert isinstance(data, SchoolRegistered)
        await upsert(
            session,
            SchoolReplica,
            {"school_id": data.school_id, "name": data.name},
            key=["school_id"],
        )
        await self.planner.event_received(session, event)

    async def trainer_enrolled(self, session: AsyncSession, event: ReceivedEvent) -> None:
        data = event.data
        assert isinstance(data, TrainerEnrolled)
        trainer = TrainerReplica(
            trainer_id=data.trainer_id,
            school_id=data.school_id,
            grade=data.grade,
            enrolled_at=data.enrolled_at,
        )
        await upsert(session, TrainerReplica, trainer.model_dump(), key=["trainer_id"])
        await self.planner.recipient_known(session, trainer=trainer)
        await self.planner.event_received(
            session,
            event,
            MailPlan(
                MailMessage.trainer_enrolled,
                recipient_key=f"school:{data.school_id}",
                school_id=data.school_id,
                trainer_id=data.trainer_id,
            ),
        )

    async def trainer_erased(self, session: AsyncSession, event: ReceivedEvent) -> None:
        data = event.data
        assert isinstance(data, TrainerErased)
        # Forget what was kept about the trainer beyond counts; mail about them is not sent.
        await session.execute(
            delete(TrainerReplica).where(col(TrainerReplica.trainer_id) == data.trainer_id)
        )
        await self.planner.abandon_mail_about(
            session, data.trainer_id, "not sent: the trainer's personal data was erased"
        )
        await self.planner.event_received(session, event)

    async def webhooks_only(self, session: AsyncSession, event: ReceivedEvent) -> None:
        await self.planner.event_received(session, event)

    # -- private contacts --------------------------------------------------------------------

    async def school_contact(self, session: AsyncSession, event: ReceivedEvent) -> None:
        data = event.data
        assert isinstance(data, SchoolContact)
        stored = await session.get(SchoolReplica, data.school_id, with_for_update=True)
        moment = event.attributes.time
        if stored is not None and stored.contact_time is not None and stored.contact_time > moment:
            return  # an older contact, redelivered late: the newer one stays
        try:
            coordinator_address(data.coordinator_name, data.email)
        except RuleBroken as broken:
            # Kept all the same: it is the school's current contact, and an older one may
            # belong to someone else. Each mail to it fails with the reason (see Preparer); this
            # line says so as it arrives, without the contact itself.
            log.warning(
                "coordinator contact cannot be mailed: mail to the school fails until "
                "enrolment corrects it",
                school_id=str(data.school_id),
                rule=broken.rule,
            )
        await upsert(
            session,
            SchoolReplica,
            {
                "school_id": data.school_id,
                "coordinator_name": data.coordinator_name,
                "email": data.email,
                "locale": data.locale,
                "contact_time": moment,
            },
            key=["school_id"],
        )
        await self.planner.recipient_known(session, school_id=data.school_id)

    # -- sessions ----------------------------------------------------------------------------

    async def session_completed(self, session: AsyncSession, event: ReceivedEvent) -> None:
        data = event.data
        assert isinstance(data, SessionCompleted)
        await upsert(
            session,
            SessionReplica,
            {
                "session_id": data.session_id,
                "school_id": data.school_id,
                "status": "completed",
                "delivered_on": data.delivered_on,
                "topic_module_id": data.topic_module_id,
                "language": data.language,
                "duration_minutes": data.duration_minutes,
                "participants_total": data.participants.total,
                "feedback_responses": data.feedback.responses,
                "average_rating": data.feedback.average_rating,
            },
            key=["session_id"],
        )
        await self.planner.event_received(session, event)

    async def session_cancelled(self, session: AsyncSession, event: ReceivedEvent) -> None:
        data = event.data
        assert isinstance(data, SessionCancelled)
        # A session completes or is cancelled, never both: a completion recorded first stays.
        existing = await session.get(SessionReplica, data.session_id)
        if existing is None:
            session.add(
                SessionReplica(
                    session_id=data.session_id,
                    school_id=data.school_id,
                    status="cancelled",
                    delivered_on=data.cancelled_at.date(),
                )
            )
        await self.planner.event_received(session, event)

    # -- milestones --------------------------------------------------------------------------

    async def milestone_reached(self, session: AsyncSession, event: ReceivedEvent) -> None:
        data = event.data
        assert isinstance(data, MilestoneReached)
        mail: MailPlan | None = None
        subject_id = data.subject.id
        if data.kind is MilestoneKind.TRAINER_CERTIFIED and subject_id is not None:
            trainer = await session.get(TrainerReplica, subject_id)
            mail = MailPlan(
                MailMessage.trainer_certified,
                recipient_key=f"trainer:{subject_id}",
                school_id=trainer.school_id if trainer else None,
                trainer_id=subject_id,
            )
        elif data.subject.type is SubjectType.SCHOOL and data.kind in MILESTONE_MAIL_KINDS:
            assert subject_id is not None
            mail = MailPlan(
                MailMessage.school_milestone,
                recipient_key=f"school:{subject_id}",
                school_id=subject_id,
            )
        await self.planner.event_received(session, event, mail)

    # -- what each durable consumer hands to whom --------------------------------------------

    def enrolment(self) -> dict[str, EventHandler]:
        return {
            SchoolRegistered.event_type: self.school_registered,
            CohortOpened.event_type: self.webhooks_only,
            TrainerEnrolled.event_type: self.trainer_enrolled,
            TrainerWithdrawn.event_type: self.webhooks_only,
            TrainerErased.event_type: self.trainer_erased,
        }

    def sessions(self) -> dict[str, EventHandler]:
        return {
            ModuleCompleted.event_type: self.webhooks_only,
            SessionCompleted.event_type: self.session_completed,
            SessionCancelled.event_type: self.session_cancelled,
        }

    def milestones(self) -> dict[str, EventHandler]:
        return {MilestoneReached.event_type: self.milestone_reached}

    def contacts(self) -> dict[str, EventHandler]:
        return {SchoolContact.event_type: self.school_contact}
