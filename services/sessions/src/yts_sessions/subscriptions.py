"""The sessions service's subscriptions, all in one place: what sessions listens to."""

from __future__ import annotations

from collections.abc import Sequence

from faststream.nats import NatsRouter
from nats.aio.msg import Msg
from yts_chassis.broker import durable_subscriber
from yts_chassis.service import ServiceRuntime
from yts_chassis.topology import SESSIONS_ROSTER

from yts_sessions.roster import ROSTER_HANDLERS


def build_router(runtime: ServiceRuntime) -> NatsRouter:
    router = NatsRouter()
    roster = runtime.consumer(SESSIONS_ROSTER, ROSTER_HANDLERS)

    # One message per fetch: enrolment's events are applied in the order they were published.
    @durable_subscriber(
        router, SESSIONS_ROSTER, inbox_prefix=runtime.settings.nats_inbox_prefix, batch_size=1
    )
    async def on_enrolment_events(messages: Sequence[Msg]) -> None:
        """Schools, cohorts and trainers into the roster replica."""
        await roster.handle(messages)

    return router
