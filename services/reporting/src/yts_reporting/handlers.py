"""Reporting's subscriptions, all in one place: what reporting listens to."""

from __future__ import annotations

from collections.abc import Sequence

from faststream.nats import NatsRouter
from nats.aio.msg import Msg
from yts_chassis.broker import durable_subscriber
from yts_chassis.service import ServiceRuntime
from yts_chassis.topology import REPORTING_ENROLMENT

from yts_reporting.projections import ENROLMENT_HANDLERS
from yts_reporting.settings import ReportingSettings


def subscriptions(runtime: ServiceRuntime, settings: ReportingSettings) -> NatsRouter:
    router = NatsRouter()
    enrolment = runtime.consumer(REPORTING_ENROLMENT, ENROLMENT_HANDLERS)

    @durable_subscriber(
        router,
        REPORTING_ENROLMENT,
        batch_size=settings.projection_batch_size,
        batch_timeout=settings.projection_batch_wait_seconds,
    )
    async def on_enrolment_events(messages: Sequence[Msg]) -> None:
        """Schools, cohorts and trainers into the projections, a batch per transaction."""
        await enrolment.handle(messages)

    return router
