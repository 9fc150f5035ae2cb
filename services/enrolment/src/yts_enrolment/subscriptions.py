"""The enrolment service's subscriptions, all in one place: the credentials issued to its
trainers (and revoked), kept beside the trainers' names so that a coordinator can print a
certificate. One event per fetch, in order."""

from __future__ import annotations

from collections.abc import Sequence

from faststream.nats import NatsRouter
from nats.aio.msg import Msg
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from yts_chassis.broker import durable_subscriber
from yts_chassis.consumer import EventHandler
from yts_chassis.database import upsert
from yts_chassis.service import ServiceRuntime
from yts_chassis.topology import DurableConsumer
from yts_contracts.credentials import CredentialIssued, CredentialRevoked
from yts_contracts.envelope import ReceivedEvent
from yts_contracts.streams import CREDENTIALS_STREAM

from yts_enrolment.store import Trainer, TrainerCredential

CREDENTIALS = DurableConsumer(
    "enrolment",
    "enrolment-credentials",
    CREDENTIALS_STREAM,
    "yts.credentials.>",
    "trainers' credentials, for the printable certificates",
)
# Every durable consumer enrolment reads (provisioning's list in deploy must match it).
CONSUMERS: tuple[DurableConsumer, ...] = (CREDENTIALS,)


async def credential_issued(session: AsyncSession, event: ReceivedEvent) -> None:
    """Kept for a trainer enrolment knows and has not erased; an erased trainer's credential
    is revoked by the credentials service and needs no certificate."""
    data = event.data
    assert isinstance(data, CredentialIssued)
    trainer = await session.get(Trainer, data.trainer_id)
    if trainer is None or trainer.erased_at is not None:
        return
    await upsert(
        session,
        TrainerCredential,
        {
            "credential_id": data.credential_id,
            "trainer_id": data.trainer_id,
            "achievement": data.achievement.value,
            "issued_on": data.issued_on,
            "verification_url": data.verification_url,
        },
        key=["credential_id"],
        update=[],
    )


async def credential_revoked(session: AsyncSession, event: ReceivedEvent) -> None:
    data = event.data
    assert isinstance(data, CredentialRevoked)
    await session.execute(
        update(TrainerCredential)
        .where(col(TrainerCredential.credential_id) == data.credential_id)
        .values(revoked_at=data.revoked_at)
    )


HANDLERS: dict[str, EventHandler] = {
    CredentialIssued.event_type: credential_issued,
    CredentialRevoked.event_type: credential_revoked,
}


def build_router(runtime: ServiceRuntime) -> NatsRouter:
    router = NatsRouter()
    credentials = runtime.consumer(CREDENTIALS, HANDLERS)

    @durable_subscriber(router, CREDENTIALS, inbox_prefix=runtime.settings.nats_inbox_prefix)
    async def on_credentials(messages: Sequence[Msg]) -> None:
        """Credentials issued to trainers, and revoked."""
        await credentials.handle(messages)

    return router
