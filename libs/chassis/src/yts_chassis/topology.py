"""The durable consumers of the system, in one place: provisioning creates exactly these, and
each service binds its subscribers to them by name (never creating or updating them)."""

from __future__ import annotations

from dataclasses import dataclass

from yts_contracts.streams import (
    ENROLMENT_STREAM,
    MILESTONES_STREAM,
    PRIVATE_STREAM,
    SESSIONS_STREAM,
)


@dataclass(frozen=True)
class DurableConsumer:
    service: str
    durable: str
    stream: str
    filter_subject: str
    description: str
    # Short, so that a crashed replica's messages are redelivered soon; handlers send
    # in-progress heartbeats while a long batch is applied (see consumer.EventConsumer).
    ack_wait_seconds: float = 15.0
    max_ack_pending: int = 2000


SESSIONS_ROSTER = DurableConsumer(
    "sessions",
    "sessions-roster",
    ENROLMENT_STREAM,
    "yts.enrolment.>",
    "the sessions service's roster replica (trainers enrolled, withdrawn, erased)",
)
NOTIFICATIONS_ENROLMENT = DurableConsumer(
    "notifications",
    "notifications-enrolment",
    ENROLMENT_STREAM,
    "yts.enrolment.>",
    "coordinator mail and partner webhooks for enrolment events",
)
NOTIFICATIONS_SESSIONS = DurableConsumer(
    "notifications",
    "notifications-sessions",
    SESSIONS_STREAM,
    "yts.sessions.>",
    "partner webhooks and weekly summaries for session events",
)
NOTIFICATIONS_MILESTONES = DurableConsumer(
    "notifications",
    "notifications-milestones",
    MILESTONES_STREAM,
    "yts.milestones.>",
    "coordinator mail and partner webhooks for milestones",
)
NOTIFICATIONS_CONTACTS = DurableConsumer(
    "notifications",
    "notifications-contacts",
    PRIVATE_STREAM,
    "yts.private.>",
    "the notifications service's replica of coordinators' contacts",
)
REPORTING_ENROLMENT = DurableConsumer(
    "reporting",
    "reporting-enrolment",
    ENROLMENT_STREAM,
    "yts.enrolment.>",
    "reporting projections of schools, cohorts and trainers",
)
REPORTING_SESSIONS = DurableConsumer(
    "reporting",
    "reporting-sessions",
    SESSIONS_STREAM,
    "yts.sessions.>",
    "reporting projections of module completions and peer sessions",
)
REPORTING_MILESTONES = DurableConsumer(
    "reporting",
    "reporting-milestones",
    MILESTONES_STREAM,
    "yts.milestones.>",
    "reporting projection of milestones",
)

SERVICE_CONSUMERS: tuple[DurableConsumer, ...] = (
    SESSIONS_ROSTER,
    NOTIFICATIONS_ENROLMENT,
    NOTIFICATIONS_SESSIONS,
    NOTIFICATIONS_MILESTONES,
    NOTIFICATIONS_CONTACTS,
    REPORTING_ENROLMENT,
    REPORTING_SESSIONS,
    REPORTING_MILESTONES,
)


def consumers_of(service: str) -> tuple[DurableConsumer, ...]:
    return tuple(c for c in SERVICE_CONSUMERS if c.service == service)
