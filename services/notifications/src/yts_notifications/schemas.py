"""Request and response bodies of the notifications API (what partners' and programme staff's
IT people read in ``/docs``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SubscriptionIn(Strict):
    partner: Annotated[str, StringConstraints(min_length=1, max_length=100)] = Field(
        description="the partner organisation the webhooks are for",
        examples=["City Methodological Centre"],
    )
    url: Annotated[str, StringConstraints(min_length=1, max_length=2000)] = Field(
        description="where events are POSTed: https:// (plain http only on loopback in "
        "development)",
        examples=["https://partner.example.org/yts/webhooks"],
    )
    event_types: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] = Field(
        min_length=1,
        max_length=20,
        description="event types to receive, as NATS subject patterns: '*' stands for one "
        "token, a final '>' for the rest. Public events only.",
        examples=[["yts.milestones.>", "yts.sessions.session.completed.v1"]],
    )


class SubscriptionOut(BaseModel):
    id: uuid.UUID
    partner: str
    url: str
    event_types: list[str]
    active: bool = Field(description="false once deleted; a disabled subscription is active")
    created_at: datetime
    deleted_at: datetime | None = None
    disabled_at: datetime | None = Field(
        default=None,
        description="when its endpoint answered 410 Gone: from then on nothing is sent to it "
        "and no delivery is made for new events; its waiting deliveries are held until it is "
        "re-enabled (POST /v1/webhook-subscriptions/{id}/enable)",
    )
    disabled_reason: str | None = Field(
        default=None, description="why it was disabled, e.g. the endpoint answered HTTP 410 Gone"
    )


class SubscriptionCreated(SubscriptionOut):
    secret: str = Field(
        description="the signing secret (Standard Webhooks, whsec_...): shown only now; keep it "
        "to verify webhook-signature"
    )


class AttemptOut(BaseModel):
    number: int
    started_at: datetime
    outcome: str = Field(
        description="delivered, retry, failed, interrupted, or disabled (the endpoint answered "
        "410 Gone and its subscription was disabled)"
    )
    http_status: int | None = None
    smtp_reply: str | None = None
    error: str | None = None
    duration_ms: int | None = None
    retry_at: datetime | None = Field(default=None, description="when the next attempt is due")


class DeliveryOut(BaseModel):
    id: uuid.UUID
    event_id: str
    event_type: str | None = None
    channel: str = Field(description="mail or webhook")
    message: str | None = Field(default=None, description="which mail, for mail")
    subscription_id: uuid.UUID | None = None
    partner: str | None = None
    school_id: uuid.UUID | None = None
    recipient: str | None = Field(default=None, description="mail address or webhook URL")
    status: str = Field(
        description="pending, sending, delivered, failed, or held (its subscription's endpoint "
        "is disabled; sent once the subscription is re-enabled)"
    )
    waiting_for: str | None = Field(
        default=None, description="contact or trainer: the mail cannot be addressed yet"
    )
    attempts: int
    next_attempt_at: datetime | None = Field(
        default=None,
        description="when the next attempt is due; none once delivered, failed or held",
    )
    last_result: str | None = None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None = None


class DeliveryDetail(DeliveryOut):
    attempt_log: list[AttemptOut] = Field(description="every attempt, oldest first")


class SentMailOut(BaseModel):
    """A mail to a school's coordinator, as the coordinator may see it listed."""

    id: uuid.UUID
    kind: str = Field(
        description="trainer_enrolled, trainer_certified, school_milestone or weekly_summary"
    )
    subject: str | None = Field(
        default=None, description="as the mail says it; none while it cannot be addressed yet"
    )
    school_id: uuid.UUID
    status: str = Field(description="pending, sending, delivered or failed")
    created_at: datetime
    sent_at: datetime | None = Field(default=None, description="when it was delivered")
