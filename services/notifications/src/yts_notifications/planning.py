"""Planning deliveries: which mails and webhooks an event calls for, and the weekly summaries a
week does. Made in the transaction that records the event (so that an event is never consumed
without its deliveries, and a redelivered event makes none twice); the engine sends them once
that transaction has committed. Also what the planner changes when a recipient arrives, an
endpoint is gone or a trainer is erased."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from yts_chassis.database import Database, upsert
from yts_contracts.envelope import ReceivedEvent

from yts_notifications.domain import IsoWeek, origin, summary_id, wants
from yts_notifications.settings import NotificationsSettings
from yts_notifications.store import (
    Channel,
    Delivery,
    DeliveryStatus,
    MailMessage,
    SessionReplica,
    StoredEvent,
    TrainerReplica,
    WebhookSubscription,
)
from yts_notifications.wakeup import install_commit_hooks, wake_after_commit

SMTP_DESTINATION = "smtp"
Clock = Callable[[], datetime]


def held_because(reason: str) -> str:
    """The ``last_result`` of a delivery set aside for a disabled endpoint."""
    return f"endpoint disabled ({reason}): sent once the subscription is re-enabled"


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
        install_commit_hooks(db)

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
