"""Deliveries: made in the transaction that records an event (so that an event is never
consumed without its deliveries, and a redelivered event makes none twice), and prepared for
sending by the engine (addressed, rendered, signed)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import col
from yts_chassis.database import Database, upsert
from yts_contracts.envelope import ReceivedEvent

from yts_notifications.domain import (
    IsoWeek,
    RuleBroken,
    coordinator_address,
    origin,
    summary_id,
    wants,
    webhook_id,
)
from yts_notifications.mail import MailTemplates, compose, message_id_for
from yts_notifications.settings import NotificationsSettings
from yts_notifications.store import (
    Channel,
    Delivery,
    DeliveryStatus,
    MailMessage,
    SchoolReplica,
    SessionReplica,
    StoredEvent,
    TrainerReplica,
    WebhookSubscription,
)
from yts_notifications.webhooks import WebhookOut, cloudevent_body

SMTP_DESTINATION = "smtp"
Clock = Callable[[], datetime]

# -- waking the engine once a transaction that made deliveries commits ------------------------

_WAKE = "yts_notifications_wake"


def wake_after_commit(session: AsyncSession, wake: Callable[[], None]) -> None:
    session.info.setdefault(_WAKE, set()).add(wake)


def _wake_on_commit(session: Session) -> None:
    for wake in session.info.pop(_WAKE, ()):
        wake()


def _forget_on_rollback(session: Session) -> None:
    session.info.pop(_WAKE, None)


# -- making deliveries ------------------------------------------------------------------------


@dataclass(frozen=True)
class MailPlan:
    """The coordinator mail an event calls for. The school may be unknown yet (a certified
    trainer whose enrolment has not arrived): the mail then waits for the trainer."""

    message: MailMessage
    recipient_key: str
    school_id: uuid.UUID | None
    trainer_id: uuid.UUID | None = None


class DeliveryPlanner:
    """Makes deliveries in the caller's transaction on ``db``; ``wake`` is called once a
    transaction that made some has committed."""

    def __init__(
        self,
        db: Database,
        settings: NotificationsSettings,
        clock: Clock,
        wake: Callable[[], None],
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.wake = wake
        db.after_commit(_wake_on_commit)
        db.after_rollback(_forget_on_rollback)

    def _row(self, **values: Any) -> dict[str, Any]:
        now = self.clock()
        return {
            "id": uuid.uuid4(),
            "status": DeliveryStatus.pending.value,
            "attempts": 0,
            "attempt_limit": self.settings.max_attempts(values["channel"]),
            "next_attempt_at": now,
            "version": 0,
            "created_at": now,
            "updated_at": now,
            "context": {},
            **values,
        }

    async def _insert(self, session: AsyncSession, row: dict[str, Any]) -> None:
        # Insert-or-nothing on (event, channel, recipient): one delivery whatever the repeats.
        await upsert(
            session, Delivery, row, key=["event_id", "channel", "recipient_key"], update=[]
        )

    async def event_received(
        self, session: AsyncSession, event: ReceivedEvent, mail: MailPlan | None = None
    ) -> None:
        """Deliveries for a public event: a webhook per matching subscription, and the mail
        the event calls for."""
        attributes = event.attributes
        # A disabled endpoint (410 Gone) gets nothing new until it is re-enabled.
        result = await session.execute(
            select(WebhookSubscription).where(
                col(WebhookSubscription.active).is_(True),
                col(WebhookSubscription.disabled_at).is_(None),
            )
        )
        subscriptions = [s for s in result.scalars() if wants(s.event_types, attributes.type)]
        if not subscriptions and mail is None:
            return
        await upsert(
            session,
            StoredEvent,
            {
                "event_id": attributes.id,
                "type": attributes.type,
                "source": attributes.source,
                "time": attributes.time,
                "subject": attributes.subject,
                "dataschema": attributes.dataschema,
                "data": event.data.model_dump(mode="json"),
                "received_at": self.clock(),
            },
            key=["event_id"],
            update=[],
        )
        for subscription in subscriptions:
            await self._insert(
                session,
                self._row(
                    event_id=attributes.id,
                    event_type=attributes.type,
                    channel=Channel.webhook.value,
                    recipient_key=str(subscription.id),
                    subscription_id=subscription.id,
                    destination=origin(subscription.url),
                    recipient=subscription.url,
                ),
            )
        if mail is not None:
            await self._insert(
                session,
                self._row(
                    event_id=attributes.id,
                    event_type=attributes.type,
                    channel=Channel.mail.value,
                    recipient_key=mail.recipient_key,
                    message=mail.message.value,
                    school_id=mail.school_id,
                    trainer_id=mail.trainer_id,
                    destination=SMTP_DESTINATION,
                ),
            )
        wake_after_commit(session, self.wake)

    async def plan_weekly_summaries(self, session: AsyncSession, week: IsoWeek) -> None:
        """One summary per school with peer sessions in ``week``; planning again (another
        replica, a restart, a late session) adds only what is missing."""
        result = await session.execute(
            select(col(SessionReplica.school_id))
            .where(
                col(SessionReplica.delivered_on) >= week.first_day,
                col(SessionReplica.delivered_on) <= week.last_day,
            )
            .distinct()
        )
        for school_id in result.scalars():
            await self._insert(
                session,
                self._row(
                    event_id=summary_id(school_id, week),
                    channel=Channel.mail.value,
                    recipient_key=f"school:{school_id}",
                    message=MailMessage.weekly_summary.value,
                    school_id=school_id,
                    destination=SMTP_DESTINATION,
                    context={"week": week.label},
                ),
            )
        wake_after_commit(session, self.wake)

    async def recipient_known(
        self,
        session: AsyncSession,
        *,
        school_id: uuid.UUID | None = None,
        trainer: TrainerReplica | None = None,
    ) -> None:
        """A contact or a trainer arrived: the mails waiting for it are due now."""
        waiting = and_(
            col(Delivery.status) == DeliveryStatus.pending.value,
            col(Delivery.waiting_for).is_not(None),
        )
        now = self.clock()
        if trainer is not None:
            await session.execute(
                update(Delivery)
                .where(waiting, col(Delivery.trainer_id) == trainer.trainer_id)
                .values(school_id=trainer.school_id, next_attempt_at=now)
            )
        if school_id is not None:
            await session.execute(
                update(Delivery)
                .where(waiting, col(Delivery.school_id) == school_id)
                .values(next_attempt_at=now)
            )
        wake_after_commit(session, self.wake)

    async def disable_endpoint(
        self, session: AsyncSession, subscription_id: uuid.UUID, reason: str
    ) -> None:
        """The subscription's endpoint is gone (410): disable it and set aside its deliveries
        waiting for an attempt, together rather than failing them one by one."""
        subscription = await session.get(
            WebhookSubscription, subscription_id, with_for_update=True, populate_existing=True
        )
        if subscription is None or not subscription.active:
            return  # deleted meanwhile: its deliveries failed with that reason
        now = self.clock()
        if subscription.disabled_at is None:
            subscription.disabled_at = now
            subscription.disabled_reason = reason
        await session.execute(
            update(Delivery)
            .where(
                col(Delivery.subscription_id) == subscription_id,
                col(Delivery.status) == DeliveryStatus.pending.value,
            )
            .values(
                status=DeliveryStatus.held.value,
                last_result=held_because(reason),
                updated_at=now,
                version=col(Delivery.version) + 1,
            )
        )

    async def abandon_mail_about(
        self, session: AsyncSession, trainer_id: uuid.UUID, reason: str
    ) -> None:
        now = self.clock()
        await session.execute(
            update(Delivery)
            .where(
                col(Delivery.trainer_id) == trainer_id,
                col(Delivery.channel) == Channel.mail.value,
                col(Delivery.status) == DeliveryStatus.pending.value,
            )
            .values(
                status=DeliveryStatus.failed.value,
                last_result=reason,
                updated_at=now,
                version=col(Delivery.version) + 1,
            )
        )


# -- preparing a delivery for an attempt ------------------------------------------------------


@dataclass(frozen=True)
class MailOut:
    message: EmailMessage
    to: str
    school_id: uuid.UUID


@dataclass(frozen=True)
class Wait:
    """Not addressable yet; looked at again when ``waiting_for`` arrives (or on recheck)."""

    waiting_for: str
    reason: str


@dataclass(frozen=True)
class Abandon:
    reason: str


@dataclass(frozen=True)
class Hold:
    """Its subscription's endpoint is disabled: set aside until it is re-enabled."""

    reason: str


Prepared = MailOut | WebhookOut | Wait | Abandon | Hold


def held_because(reason: str) -> str:
    """The ``last_result`` of a delivery set aside for a disabled endpoint."""
    return f"endpoint disabled ({reason}): sent once the subscription is re-enabled"


class Preparer:
    def __init__(self, settings: NotificationsSettings, templates: MailTemplates) -> None:
        self.settings = settings
        self.templates = templates

    async def prepare(self, session: AsyncSession, delivery: Delivery) -> Prepared:
        if delivery.channel == Channel.webhook.value:
            return await self._webhook(session, delivery)
        return await self._mail(session, delivery)

    async def _webhook(self, session: AsyncSession, delivery: Delivery) -> Prepared:
        subscription = (
            await session.get(WebhookSubscription, delivery.subscription_id)
            if delivery.subscription_id
            else None
        )
        if subscription is None or not subscription.active:
            return Abandon("the subscription was deleted")
        if subscription.disabled_at is not None:
            return Hold(subscription.disabled_reason or "the endpoint was disabled")
        event = await session.get(StoredEvent, delivery.event_id)
        if event is None:
            return Abandon("the event is no longer stored")
        assert delivery.subscription_id is not None
        return WebhookOut(
            url=subscription.url,
            body=cloudevent_body(event),
            secret=subscription.secret,
            webhook_id=webhook_id(delivery.event_id, delivery.subscription_id),
        )

    async def _mail(self, session: AsyncSession, delivery: Delivery) -> Prepared:
        if delivery.message not in {m.value for m in MailMessage}:
            return Abandon(f"no template for the mail {delivery.message!r}")
        message = MailMessage(delivery.message)
        trainer: TrainerReplica | None = None
        if delivery.trainer_id is not None:
            trainer = await session.get(TrainerReplica, delivery.trainer_id)
        school_id = delivery.school_id or (trainer.school_id if trainer else None)
        if school_id is None or (message is MailMessage.trainer_certified and trainer is None):
            return Wait("trainer", "waiting for the trainer's enrolment to arrive")
        school = await session.get(SchoolReplica, school_id)
        if school is None or not school.email or not school.coordinator_name:
            return Wait("contact", f"waiting for the coordinator's contact of school {school_id}")
        try:
            to = coordinator_address(school.coordinator_name, school.email)
        except RuleBroken as broken:
            return Abandon(
                f"not sent: the coordinator's address {school.email!r} of school {school_id} "
                f"is {broken.message} (correct the contact in enrolment, then retry this "
                "delivery)"
            )
        context = await self._context(session, delivery, message, school, trainer)
        if context is None:
            return Abandon("the event is no longer stored")
        rendered = self.templates.render(message, school.locale or "en", context)
        sender = self.settings.mail_sender
        return MailOut(
            message=compose(
                rendered,
                sender=sender,
                to=to,
                message_id=message_id_for(delivery.id.hex, sender),
            ),
            to=school.email,
            school_id=school_id,
        )

    async def _context(
        self,
        session: AsyncSession,
        delivery: Delivery,
        message: MailMessage,
        school: SchoolReplica,
        trainer: TrainerReplica | None,
    ) -> dict[str, Any] | None:
        context: dict[str, Any] = {
            "coordinator_name": school.coordinator_name,
            "school_name": school.name,
        }
        if message is MailMessage.weekly_summary:
            week = IsoWeek.parse(delivery.context["week"])
            context.update(await _week_of_sessions(session, school.school_id, week))
            return context
        event = await session.get(StoredEvent, delivery.event_id)
        if event is None:
            return None
        data = event.data
        if message is MailMessage.trainer_enrolled:
            context["trainer"] = {
                "grade": data["grade"],
                "enrolled_on": _day(data["enrolled_at"]),
                "reference": data["trainer_id"],
            }
        elif message is MailMessage.trainer_certified:
            assert trainer is not None
            context["trainer"] = {
                "grade": trainer.grade,
                "enrolled_on": trainer.enrolled_at.date().isoformat(),
                "reference": str(trainer.trainer_id),
            }
            context["certified_on"] = _day(data["reached_at"])
        elif message is MailMessage.school_milestone:
            context["milestone"] = {
                "kind": data["kind"],
                "reached_on": _day(data["reached_at"]),
                "evidence": sorted(data.get("evidence", {}).items()),
            }
        return context


def _day(timestamp: str) -> str:
    return datetime.fromisoformat(timestamp).date().isoformat()


async def _week_of_sessions(
    session: AsyncSession, school_id: uuid.UUID, week: IsoWeek
) -> dict[str, Any]:
    result = await session.execute(
        select(SessionReplica)
        .where(
            col(SessionReplica.school_id) == school_id,
            col(SessionReplica.delivered_on) >= week.first_day,
            col(SessionReplica.delivered_on) <= week.last_day,
        )
        .order_by(col(SessionReplica.delivered_on), col(SessionReplica.session_id))
    )
    sessions: Sequence[SessionReplica] = result.scalars().all()
    completed = [s for s in sessions if s.status == "completed"]
    rated = [s for s in completed if s.average_rating is not None and s.feedback_responses]
    # The mean over every response of the week, not a mean of the sessions' means.
    responses = sum(s.feedback_responses or 0 for s in rated)
    weighted = sum((s.average_rating or 0) * (s.feedback_responses or 0) for s in rated)
    average = round(weighted / responses, 2) if responses else None
    return {
        "week": {
            "label": week.label,
            "first_day": week.first_day.isoformat(),
            "last_day": week.last_day.isoformat(),
        },
        "totals": {
            "completed": len(completed),
            "cancelled": len(sessions) - len(completed),
            "participants": sum(s.participants_total or 0 for s in completed),
            "average_rating": average,
        },
        "sessions": [
            {
                "delivered_on": s.delivered_on.isoformat(),
                "topic": s.topic_module_id,
                "language": s.language,
                "participants": s.participants_total,
                "duration_minutes": s.duration_minutes,
            }
            for s in completed
        ],
    }
