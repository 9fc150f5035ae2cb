"""The read side of the API: subscriptions and deliveries (no effects)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlmodel import col
from yts_chassis.database import Database
from yts_chassis.paging import Slice, count, page

from yts_notifications.preparation import MailOut, Preparer
from yts_notifications.store import (
    Channel,
    Delivery,
    DeliveryAttempt,
    TrainerReplica,
    WebhookSubscription,
)


async def subscriptions(
    db: Database, *, include_deleted: bool, limit: int, offset: int
) -> Slice[WebhookSubscription]:
    query = select(WebhookSubscription)
    if not include_deleted:
        query = query.where(col(WebhookSubscription.active).is_(True))
    order = [col(WebhookSubscription.created_at), col(WebhookSubscription.id)]
    async with db.snapshot() as session:
        return await page(session, query, order, limit, offset)


@dataclass(frozen=True)
class DeliveryRow:
    delivery: Delivery
    partner: str | None


@dataclass(frozen=True)
class DeliveryFilter:
    status: str | None = None
    channel: str | None = None
    partner: str | None = None
    event_type: str | None = None
    event_id: str | None = None
    school_id: uuid.UUID | None = None
    subscription_id: uuid.UUID | None = None


def _deliveries(where: DeliveryFilter) -> Any:
    query = select(Delivery, WebhookSubscription.partner).outerjoin(  # type: ignore[call-overload]
        WebhookSubscription,
        col(WebhookSubscription.id) == col(Delivery.subscription_id),
    )
    if where.status is not None:
        query = query.where(col(Delivery.status) == where.status)
    if where.channel is not None:
        query = query.where(col(Delivery.channel) == where.channel)
    if where.partner is not None:
        query = query.where(col(WebhookSubscription.partner) == where.partner)
    if where.event_type is not None:
        query = query.where(col(Delivery.event_type) == where.event_type)
    if where.event_id is not None:
        query = query.where(col(Delivery.event_id) == where.event_id)
    if where.school_id is not None:
        query = query.where(col(Delivery.school_id) == where.school_id)
    if where.subscription_id is not None:
        query = query.where(col(Delivery.subscription_id) == where.subscription_id)
    return query


async def deliveries(
    db: Database, where: DeliveryFilter, *, limit: int, offset: int
) -> Slice[DeliveryRow]:
    query = _deliveries(where)
    async with db.snapshot() as session:
        total = await count(session, query)
        rows = await session.execute(
            query.order_by(col(Delivery.created_at).desc(), col(Delivery.id))
            .limit(limit)
            .offset(offset)
        )
        return Slice(
            items=[DeliveryRow(delivery, partner) for delivery, partner in rows.all()],
            total=total,
        )


async def delivery(
    db: Database, delivery_id: uuid.UUID
) -> tuple[DeliveryRow, list[DeliveryAttempt]] | None:
    async with db.snapshot() as session:
        query = _deliveries(DeliveryFilter()).where(col(Delivery.id) == delivery_id)
        found = (await session.execute(query)).first()
        if found is None:
            return None
        attempts = await session.execute(
            select(DeliveryAttempt)
            .where(col(DeliveryAttempt.delivery_id) == delivery_id)
            .order_by(col(DeliveryAttempt.id))
        )
        return DeliveryRow(found[0], found[1]), list(attempts.scalars())


@dataclass(frozen=True)
class SentMail:
    delivery: Delivery
    school_id: uuid.UUID
    subject: str | None


async def mail_sent(
    db: Database, preparer: Preparer, school_id: uuid.UUID | None, *, limit: int, offset: int
) -> Slice[SentMail]:
    """Mail to coordinators, newest first, of one school or all; each with its subject as
    rendered for sending (a mail about a certified trainer belongs to the trainer's school)."""
    query = (
        select(Delivery, TrainerReplica.school_id)  # type: ignore[call-overload]
        .outerjoin(TrainerReplica, col(TrainerReplica.trainer_id) == col(Delivery.trainer_id))
        .where(col(Delivery.channel) == Channel.mail.value)
    )
    if school_id is not None:
        query = query.where(
            or_(col(Delivery.school_id) == school_id, col(TrainerReplica.school_id) == school_id)
        )
    async with db.snapshot() as session:
        total = await count(session, query)
        rows = await session.execute(
            query.order_by(col(Delivery.created_at).desc(), col(Delivery.id))
            .limit(limit)
            .offset(offset)
        )
        found = []
        for delivery, trainers_school in rows.all():
            school = delivery.school_id or trainers_school
            if school is None:
                continue  # waiting for the trainer's enrolment: no school to list it under
            prepared = await preparer.prepare(session, delivery)
            subject = str(prepared.message["Subject"]) if isinstance(prepared, MailOut) else None
            found.append(SentMail(delivery, school, subject))
        return Slice(items=found, total=total)
