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
from yts_chassis.topology import (
    NOTIFICATIONS_CONTACTS,
    NOTIFICATIONS_ENROLMENT,
    NOTIFICATIONS_MILESTONES,
    NOTIFICATIONS_SESSIONS,
)

from yts_notifications.intake import Intake


def build_router(runtime: ServiceRuntime, intake: Intake) -> NatsRouter:
    router = NatsRouter()
    enrolment = runtime.consumer(NOTIFICATIONS_ENROLMENT, intake.enrolment())
    sessions = runtime.consumer(NOTIFICATIONS_SESSIONS, intake.sessions())
    milestones = runtime.consumer(NOTIFICATIONS_MILESTONES, intake.milestones())
    contacts = runtime.consumer(NOTIFICATIONS_CONTACTS, intake.contacts())
    inbox = runtime.settings.nats_inbox_prefix

    @durable_subscriber(router, NOTIFICATIONS_ENROLMENT, inbox_prefix=inbox)
    async def on_enrolment_events(messages: Sequence[Msg]) -> None:
        """Schools' names, trainers as categories; enrolment mail and webhooks."""
        await enrolment.handle(messages)

    @durable_subscriber(router, NOTIFICATIONS_SESSIONS, inbox_prefix=inbox)
    async def on_session_events(messages: Sequence[Msg]) -> None:
        """Peer sessions for the weekly summaries; webhooks."""
        await sessions.handle(messages)

    @durable_subscriber(router, NOTIFICATIONS_MILESTONES, inbox_prefix=inbox)
    async def on_milestone_events(messages: Sequence[Msg]) -> None:
        """Certification and school milestone mail; webhooks."""
        await milestones.handle(messages)

    @durable_subscriber(router, NOTIFICATIONS_CONTACTS, inbox_prefix=inbox)
    async def on_contact_events(messages: Sequence[Msg]) -> None:
        """Coordinators' contacts (private stream): the addresses of the mail."""
        await contacts.handle(messages)

    return router
