"""The credentials service's subscriptions, all in one place: milestones (a trainer's
milestone earns a credential) and enrolment's trainers (their school; an erasure revokes).
One event per fetch, each in its inbox transaction with the credential it issues or revokes
and the event that says so."""

from __future__ import annotations

from collections.abc import Sequence

from faststream.nats import NatsRouter
from nats.aio.msg import Msg
from sqlalchemy.ext.asyncio import AsyncSession
from yts_chassis.broker import durable_subscriber
from yts_chassis.consumer import EventHandler
from yts_chassis.service import ServiceRuntime
from yts_chassis.topology import DurableConsumer
from yts_contracts.enrolment import TrainerEnrolled, TrainerErased
from yts_contracts.envelope import ReceivedEvent
from yts_contracts.milestones import MilestoneReached
from yts_contracts.streams import ENROLMENT_STREAM, MILESTONES_STREAM

from yts_credentials import usecases

MILESTONES = DurableConsumer(
    "credentials",
    "credentials-milestones",
    MILESTONES_STREAM,
    "yts.milestones.>",
    "a credential for each trainer's certification and facilitation milestone",
)
TRAINERS = DurableConsumer(
    "credentials",
    "credentials-trainers",
    ENROLMENT_STREAM,
    "yts.enrolment.>",
    "trainers' schools for the credentials' events; an erasure revokes the trainer's credentials",
)
# Every durable consumer credentials reads (provisioning's list in deploy must match it).
CONSUMERS: tuple[DurableConsumer, ...] = (MILESTONES, TRAINERS)


def milestone_handlers(deps: usecases.Deps) -> dict[str, EventHandler]:
    async def milestone_reached(session: AsyncSession, event: ReceivedEvent) -> None:
        assert isinstance(event.data, MilestoneReached)
        await usecases.issue_for_milestone(deps, session, event.data)

    return {MilestoneReached.event_type: milestone_reached}


def trainer_handlers(deps: usecases.Deps) -> dict[str, EventHandler]:
    async def trainer_enrolled(session: AsyncSession, event: ReceivedEvent) -> None:
        assert isinstance(event.data, TrainerEnrolled)
        await usecases.record_enrolment(session, event.data)

    async def trainer_erased(session: AsyncSession, event: ReceivedEvent) -> None:
        assert isinstance(event.data, TrainerErased)
        await usecases.erase_trainer(deps, session, event.data)

    return {
        TrainerEnrolled.event_type: trainer_enrolled,
        TrainerErased.event_type: trainer_erased,
    }


def build_router(runtime: ServiceRuntime, deps: usecases.Deps) -> NatsRouter:
    router = NatsRouter()
    milestones = runtime.consumer(MILESTONES, milestone_handlers(deps))
    trainers = runtime.consumer(TRAINERS, trainer_handlers(deps))
    inbox = runtime.settings.nats_inbox_prefix

    @durable_subscriber(router, MILESTONES, inbox_prefix=inbox)
    async def on_milestones(messages: Sequence[Msg]) -> None:
        """A credential for each trainer milestone that earns one."""
        await milestones.handle(messages)

    @durable_subscriber(router, TRAINERS, inbox_prefix=inbox)
    async def on_trainers(messages: Sequence[Msg]) -> None:
        """Trainers' schools; erasures revoke."""
        await trainers.handle(messages)

    return router
