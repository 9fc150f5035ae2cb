"""Preparing a delivery for an attempt: a mail addressed and rendered in the coordinator's
language, or a webhook request signed for its subscription; or the reason it cannot go now
(waiting for its recipient, held for a disabled endpoint, abandoned)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from yts_notifications.domain import IsoWeek, RuleBroken, coordinator_address, webhook_id
from yts_notifications.mail import MailTemplates, compose, message_id_for
from yts_notifications.settings import NotificationsSettings
from yts_notifications.store import (
    Channel,
    Delivery,
    MailMessage,
    SchoolReplica,
    SessionReplica,
    StoredEvent,
    TrainerReplica,
    WebhookSubscription,
)
from yts_notifications.webhooks import WebhookOut, cloudevent_body


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
    """Cannot be sent, now or later: fails with the reason."""

    reason: str


@dataclass(frozen=True)
class Hold:
    """Its subscription's endpoint is disabled: set aside until it is re-enabled."""

    reason: str


Prepared = MailOut | WebhookOut | Wait | Abandon | Hold


class Preparer:
    """Turns a due delivery into what to send, in the claiming transaction."""

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
