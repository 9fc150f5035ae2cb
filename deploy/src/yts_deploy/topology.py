"""Every service's durable consumers, as the operator provisions them (``yts provision``) and
as deploy/nats grants them. Each service declares its own in its ``subscriptions.py``; deploy
is installed without the services (the compose ``provision`` step has only yts-deploy, the
contracts and the chassis), so the list is written here too, and
``tests/deploy/test_consumer_topology.py`` checks it is exactly what the services declare."""

from __future__ import annotations

from yts_chassis.topology import DurableConsumer
from yts_contracts.streams import (
    CREDENTIALS_STREAM,
    ENROLMENT_STREAM,
    MILESTONES_STREAM,
    PRIVATE_STREAM,
    SESSIONS_STREAM,
)

SERVICE_CONSUMERS: tuple[DurableConsumer, ...] = (
    DurableConsumer(
        "sessions",
        "sessions-roster",
        ENROLMENT_STREAM,
        "yts.enrolment.>",
        "the sessions service's roster replica (trainers enrolled, withdrawn, erased)",
    ),
    DurableConsumer(
        "notifications",
        "notifications-enrolment",
        ENROLMENT_STREAM,
        "yts.enrolment.>",
        "coordinator mail and partner webhooks for enrolment events",
    ),
    DurableConsumer(
        "notifications",
        "notifications-sessions",
        SESSIONS_STREAM,
        "yts.sessions.>",
        "partner webhooks and weekly summaries for session events",
    ),
    DurableConsumer(
        "notifications",
        "notifications-milestones",
        MILESTONES_STREAM,
        "yts.milestones.>",
        "coordinator mail and partner webhooks for milestones",
    ),
    DurableConsumer(
        "notifications",
        "notifications-contacts",
        PRIVATE_STREAM,
        "yts.private.>",
        "the notifications service's replica of coordinators' contacts",
    ),
    DurableConsumer(
        "reporting",
        "reporting-enrolment",
        ENROLMENT_STREAM,
        "yts.enrolment.>",
        "reporting projections of schools, cohorts and trainers",
    ),
    DurableConsumer(
        "reporting",
        "reporting-sessions",
        SESSIONS_STREAM,
        "yts.sessions.>",
        "reporting projections of module completions and peer sessions",
    ),
    DurableConsumer(
        "reporting",
        "reporting-milestones",
        MILESTONES_STREAM,
        "yts.milestones.>",
        "reporting projection of milestones",
    ),
    DurableConsumer(
        "credentials",
        "credentials-milestones",
        MILESTONES_STREAM,
        "yts.milestones.>",
        "a credential for each trainer's certification and facilitation milestone",
    ),
    DurableConsumer(
        "credentials",
        "credentials-trainers",
        ENROLMENT_STREAM,
        "yts.enrolment.>",
        "trainers' schools for the credentials' events; an erasure revokes the trainer's "
        "credentials",
    ),
    DurableConsumer(
        "enrolment",
        "enrolment-credentials",
        CREDENTIALS_STREAM,
        "yts.credentials.>",
        "trainers' credentials, for the printable certificates",
    ),
)


def consumers_of(service: str) -> tuple[DurableConsumer, ...]:
    return tuple(c for c in SERVICE_CONSUMERS if c.service == service)
