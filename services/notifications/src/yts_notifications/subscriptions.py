"""Notifications' subscriptions, all in one place: what the service listens to.

Every public stream (for webhooks and coordinator mail) and the private contacts stream, which
only this service reads. One event per fetch and per inbox transaction, in order: each event
is a mail or a webhook to plan, and planning it is cheap next to sending it."""

from __future__ import annotations

from collections.abc import Sequence

from faststream.nats import NatsRouter
from nats.aio.msg import Msg
from yts_chassis.broker import durable_subscriber
from yts_chassis.service import ServiceRuntime
from yts_chassis.topology import DurableConsumer
from yts_contracts.streams import (
    ENROLMENT_STREAM,
    MILESTONES_STREAM,
    PRIVATE_STREAM,
    SESSIONS_STREAM,
)

from yts_notifications.intake import Intake

ENROLMENT = DurableConsumer(
    "notifications",
    "notifications-enrolment",
    ENROLMENT_STREAM,
    "yts.enrolment.>",
    "coordinator mail and partner webhooks for enrolment events",
)
SESSIONS = DurableConsumer(
    "notifications",
    "notifications-sessions",
    SESSIONS_STREAM,
    "yts.sessions.>",
    "partner webhooks and weekly summaries for session events",
)
MILESTONES = DurableConsumer(
    "notifications",
    "notifications-milestones",
    MILESTONES_STREAM,
    "yts.milestones.>",
    "coordinator mail and partner webhooks for milestones",
)
CONTACTS = DurableConsumer(
    "notifications",
    "notifications-contacts",
    PRIVATE_STREAM,
    "yts.private.>",
    "the notifications service's replica of coordinators' contacts",
)
# Every durable consumer notifications reads (provisioning's list in deploy must match it).
CONSUMERS: tuple[DurableConsumer, ...] = (ENROLMENT, SESSIONS, MILESTONES, CONTACTS)


def build_router(runtime: ServiceRuntime, intake: Intake) -> NatsRouter:
    router = NatsRouter()
    enrolment = runtime.consumer(ENROLMENT, intake.enrolment())
    sessions = runtime.consumer(SESSIONS, intake.sessions())
    milestones = runtime.consumer(MILESTONES, intake.milestones())
    contacts = runtime.consumer(CONTACTS, intake.contacts())
    inbox = runtime.settings.nats_inbox_prefix

    @durable_subscriber(router, ENROLMENT, inbox_prefix=inbox)
    async def on_enrolment_events(messages: Sequence[Msg]) -> None:
        """Schools' names, trainers as categories; enrolment mail and webhooks."""
        await enrolment.handle(messages)

    @durable_subscriber(router, SESSIONS, inbox_prefix=inbox)
    async def on_session_events(messages: Sequence[Msg]) -> None:
        """Peer sessions for the weekly summaries; webhooks."""
        await sessions.handle(messages)

    @durable_subscriber(router, MILESTONES, inbox_prefix=inbox)
    async def on_milestone_events(messages: Sequence[Msg]) -> None:
        """Certification and school milestone mail; webhooks."""
        await milestones.handle(messages)

    @durable_subscriber(router, CONTACTS, inbox_prefix=inbox)
    async def on_contact_events(messages: Sequence[Msg]) -> None:
        """Coordinators' contacts (private stream): the addresses of the mail."""
        await contacts.handle(messages)

    return router
