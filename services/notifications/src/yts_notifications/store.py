"""The notifications service's tables (its own database).

Replicas built from events (schools with their coordinator's contact, trainers as categories,
peer sessions), the partners' webhook subscriptions, the public events kept for delivery, and
one delivery per (event, channel, recipient) with every attempt made for it."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, Text, TypeDecorator, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel
from yts_chassis.tables import define_messaging_tables


class UtcDateTime(TypeDecorator[datetime]):
    """A moment stored as UTC and read back time-zone aware on SQLite and PostgreSQL alike
    (SQLite would otherwise hand back naive datetimes)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the notifications store keeps aware moments only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def moment(nullable: bool = False, index: bool = False) -> Any:
    return Field(sa_column=Column(UtcDateTime(), nullable=nullable, index=index))


class NotificationsTable(SQLModel, registry=registry()):
    pass


class Channel(StrEnum):
    mail = "mail"
    webhook = "webhook"


class DeliveryStatus(StrEnum):
    pending = "pending"
    sending = "sending"  # an attempt is in flight (or its replica died: see the lease)
    delivered = "delivered"
    failed = "failed"
    # Set aside: its subscription's endpoint answered 410 Gone and is disabled. Not sent, not
    # failed; resumed when programme staff re-enable the subscription.
    held = "held"


class MailMessage(StrEnum):
    """Which mail a coordinator gets; each has one template per locale."""

    trainer_enrolled = "trainer_enrolled"
    trainer_certified = "trainer_certified"
    school_milestone = "school_milestone"
    weekly_summary = "weekly_summary"


class SchoolReplica(NotificationsTable, table=True):
    """A school as events describe it: its name (public) and its coordinator's work contact
    (private stream only). Either half may arrive first."""

    __tablename__ = "schools"

    school_id: uuid.UUID = Field(primary_key=True)
    name: str | None = Field(default=None, max_length=200)
    coordinator_name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=254)
    locale: str | None = Field(default=None, max_length=2)
    # ce-time of the contact event applied last: an older contact never overwrites a newer one.
    contact_time: datetime | None = moment(nullable=True)


class TrainerReplica(NotificationsTable, table=True):
    """A young trainer as categories only: the service never has names."""

    __tablename__ = "trainers"

    trainer_id: uuid.UUID = Field(primary_key=True)
    school_id: uuid.UUID = Field(index=True)
    grade: int
    enrolled_at: datetime = moment()


class SessionReplica(NotificationsTable, table=True):
    """Peer sessions completed or cancelled, for the weekly summaries."""

    __tablename__ = "sessions"
    __table_args__ = (Index("ix_sessions_week", "delivered_on", "school_id"),)

    session_id: uuid.UUID = Field(primary_key=True)
    school_id: uuid.UUID
    status: str = Field(max_length=12)  # completed | cancelled
    # The day it took place, or the day it was cancelled.
    delivered_on: date
    topic_module_id: str | None = Field(default=None, max_length=64)
    language: str | None = Field(default=None, max_length=2)
    duration_minutes: int | None = None
    participants_total: int | None = None
    feedback_responses: int | None = None
    average_rating: float | None = None


class WebhookSubscription(NotificationsTable, table=True):
    __tablename__ = "webhook_subscriptions"

    id: uuid.UUID = Field(primary_key=True)
    partner: str = Field(max_length=100, index=True)
    url: str = Field(max_length=2000)
    event_types: list[str] = Field(sa_column=Column(JSON, nullable=False))
    # The signing key (Standard Webhooks "whsec_" form); it must be readable to sign, so it is
    # kept as is and shown only in the response that created it.
    secret: str = Field(max_length=100)
    # False once deleted (for good); a disabled subscription is still active.
    active: bool = True
    created_at: datetime = moment()
    deleted_at: datetime | None = moment(nullable=True)
    # Set when the endpoint answered 410 Gone: nothing is sent or made for it until programme
    # staff re-enable it.
    disabled_at: datetime | None = moment(nullable=True)
    disabled_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class StoredEvent(NotificationsTable, table=True):
    """A public event that has at least one delivery: the CloudEvent as received, so that every
    retry sends the same body."""

    __tablename__ = "events"

    event_id: str = Field(primary_key=True, max_length=36)
    type: str = Field(max_length=200)
    source: str = Field(max_length=200)
    time: datetime = moment()
    subject: str | None = Field(default=None, max_length=200)
    dataschema: str | None = Field(default=None, max_length=300)
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    received_at: datetime = moment()


class Delivery(NotificationsTable, table=True):
    """One message to one recipient: a mail to a school's coordinator or a webhook to one
    subscription. The unique key makes redeliveries of an event create nothing new."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "channel", "recipient_key", name="uq_deliveries_recipient"),
        Index("ix_deliveries_due", "status", "next_attempt_at"),
    )

    id: uuid.UUID = Field(primary_key=True)
    # The CloudEvents id; for a weekly summary, the id derived from school and ISO week.
    event_id: str = Field(max_length=36)
    event_type: str | None = Field(default=None, max_length=200, index=True)
    channel: str = Field(max_length=10)
    # "school:<id>" or "trainer:<id>" for mail (resolved to a coordinator when sending), the
    # subscription id for webhooks.
    recipient_key: str = Field(max_length=100)
    message: str | None = Field(default=None, max_length=40)
    subscription_id: uuid.UUID | None = Field(default=None, index=True)
    school_id: uuid.UUID | None = Field(default=None, index=True)
    trainer_id: uuid.UUID | None = Field(default=None, index=True)
    # What bounds concurrency: "smtp", or the origin of the webhook URL.
    destination: str = Field(max_length=300)
    context: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    recipient: str | None = Field(default=None, max_length=2000)
    status: str = Field(max_length=12)
    attempts: int = 0
    # Attempts allowed so far: one round of the channel's retries, and another after each
    # manual retry or re-enabling of its subscription.
    attempt_limit: int
    next_attempt_at: datetime = moment()
    lease_until: datetime | None = moment(nullable=True)
    # "contact" or "trainer": a mail that cannot be addressed until that event arrives.
    waiting_for: str | None = Field(default=None, max_length=10)
    last_result: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # Bumped by every change of state: claims compare and set it, so two replicas never send
    # the same attempt.
    version: int = 0
    created_at: datetime = moment()
    updated_at: datetime = moment()
    delivered_at: datetime | None = moment(nullable=True)


class DeliveryAttempt(NotificationsTable, table=True):
    __tablename__ = "delivery_attempts"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: uuid.UUID = Field(index=True)
    number: int
    started_at: datetime = moment()
    # delivered | retry | failed | interrupted (the replica died during the attempt) |
    # disabled (the endpoint answered 410 Gone: its subscription was disabled)
    outcome: str = Field(max_length=12)
    http_status: int | None = None
    smtp_reply: str | None = Field(default=None, max_length=500)
    error: str | None = Field(default=None, max_length=500)
    duration_ms: int | None = None
    # When the next attempt is due, for an outcome of 'retry'.
    retry_at: datetime | None = moment(nullable=True)


metadata = NotificationsTable.metadata
messaging = define_messaging_tables(metadata)
