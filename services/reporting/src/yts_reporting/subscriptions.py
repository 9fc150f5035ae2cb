"""Reporting's subscriptions, all in one place: what reporting listens to.

Three durable pull consumers (one per public stream), each read in batches: a batch is applied
in one transaction through the inbox. A rebuild replays the same streams through the same
projection handlers (see ``replay.py``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from faststream.nats import NatsRouter
from nats.aio.msg import Msg
from yts_chassis.broker import durable_subscriber
from yts_chassis.service import ServiceRuntime
from yts_chassis.topology import DurableConsumer
from yts_contracts.enrolment import (
    CohortOpened,
    SchoolRegistered,
    TrainerEnrolled,
    TrainerErased,
    TrainerWithdrawn,
)
from yts_contracts.envelope import EventData
from yts_contracts.milestones import MilestoneReached
from yts_contracts.sessions import ModuleCompleted, SessionCancelled, SessionCompleted
from yts_contracts.streams import ENROLMENT_STREAM, MILESTONES_STREAM, SESSIONS_STREAM

from yts_reporting.projections import Projections
from yts_reporting.settings import ReportingSettings

ENROLMENT = DurableConsumer(
    "reporting",
    "reporting-enrolment",
    ENROLMENT_STREAM,
    "yts.enrolment.>",
    "reporting projections of schools, cohorts and trainers",
)
SESSIONS = DurableConsumer(
    "reporting",
    "reporting-sessions",
    SESSIONS_STREAM,
    "yts.sessions.>",
    "reporting projections of module completions and peer sessions",
)
MILESTONES = DurableConsumer(
    "reporting",
    "reporting-milestones",
    MILESTONES_STREAM,
    "yts.milestones.>",
    "reporting projection of milestones",
)

# Which events reporting reads from which of its durable consumers.
SUBSCRIPTIONS: tuple[tuple[DurableConsumer, tuple[type[EventData], ...]], ...] = (
    (
        ENROLMENT,
        (SchoolRegistered, CohortOpened, TrainerEnrolled, TrainerWithdrawn, TrainerErased),
    ),
    (SESSIONS, (ModuleCompleted, SessionCompleted, SessionCancelled)),
    (MILESTONES, (MilestoneReached,)),
)
# Every durable consumer reporting reads (provisioning's list in deploy must match it).
CONSUMERS: tuple[DurableConsumer, ...] = tuple(durable for durable, _ in SUBSCRIPTIONS)


def build_router(runtime: ServiceRuntime, settings: ReportingSettings) -> NatsRouter:
    router = NatsRouter()
    projections = Projections(settings.zone, runtime.db)
    for durable, event_types in SUBSCRIPTIONS:
        consumer = runtime.consumer(durable, projections.handlers(*event_types))
        subscriber = durable_subscriber(
            router,
            durable,
            inbox_prefix=settings.nats_inbox_prefix,
            batch_size=settings.projection_batch_size,
            batch_timeout=settings.projection_batch_wait_seconds,
        )
        subscriber(_batch_handler(durable, consumer.handle))
    return router


def _batch_handler(
    durable: DurableConsumer, handle: Callable[[Sequence[Msg]], Awaitable[None]]
) -> Callable[[Sequence[Msg]], Awaitable[None]]:
    async def on_events(messages: Sequence[Msg]) -> None:
        await handle(messages)

    on_events.__name__ = "on_" + durable.durable.replace("-", "_")
    on_events.__doc__ = f"{durable.description}: a batch per transaction."
    return on_events
