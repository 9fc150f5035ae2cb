"""The sessions service's subscriptions, all in one place: what sessions listens to (its
durable consumer, as provisioning creates it, and the subscriber bound to it)."""

from __future__ import annotations

from collections.abc import Sequence

from faststream.nats import NatsRouter
from nats.aio.msg import Msg
from yts_chassis.broker import durable_subscriber
from yts_chassis.service import ServiceRuntime
from yts_chassis.topology import DurableConsumer
from yts_contracts.streams import ENROLMENT_STREAM

from yts_sessions.roster import ROSTER_HANDLERS

ROSTER = DurableConsumer(
    "sessions",
    "sessions-roster",
    ENROLMENT_STREAM,
    "yts.enrolment.>",
    "the sessions service's roster replica (trainers enrolled, withdrawn, erased)",
)
# Every durable consumer sessions reads (provisioning's list in deploy must match it).
CONSUMERS: tuple[DurableConsumer, ...] = (ROSTER,)


def build_router(runtime: ServiceRuntime) -> NatsRouter:
    router = NatsRouter()
    roster = runtime.consumer(ROSTER, ROSTER_HANDLERS)

    # One message per fetch: enrolment's events are applied in the order they were published.
    @durable_subscriber(
        router, ROSTER, inbox_prefix=runtime.settings.nats_inbox_prefix, batch_size=1
    )
    async def on_enrolment_events(messages: Sequence[Msg]) -> None:
        """Schools, cohorts and trainers into the roster replica."""
        await roster.handle(messages)

    return router
