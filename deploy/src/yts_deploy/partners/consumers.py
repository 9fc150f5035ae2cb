"""A partner's durable pull consumers on the public streams.

A core ``subscribe`` permission does not limit what a JetStream consumer delivers, so a partner
never creates consumers: provisioning makes one durable pull consumer per public stream it
reads, whose filter decides what it sees."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError
from yts_contracts.catalog import CATALOG
from yts_contracts.streams import StreamSpec, stream_for_subject, subject_matches

from yts_deploy.partners.accounts import PartnerConsumer, PartnerError

SUBJECT_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")


PARTNER_ACK_WAIT_SECONDS = 60.0


PARTNER_MAX_ACK_PENDING = 1000


def _check_subject(pattern: str) -> None:
    tokens = pattern.split(".")
    for index, token in enumerate(tokens):
        if token == ">" and index == len(tokens) - 1:
            continue
        if token == "*" or SUBJECT_TOKEN.match(token):
            continue
        raise PartnerError(f"event type {pattern!r} is not a NATS subject (token {token!r})")


def public_stream_of(pattern: str) -> StreamSpec:
    """The public stream holding every event that ``pattern`` names; refuses the private and
    dead-letter streams and patterns spanning several streams."""
    _check_subject(pattern)
    try:
        stream = stream_for_subject(pattern)
    except KeyError:
        raise PartnerError(
            f"event type {pattern!r} is not held by one stream: name types per stream, e.g. "
            "'yts.enrolment.>', 'yts.sessions.>', 'yts.milestones.>'"
        ) from None
    if not stream.public:
        raise PartnerError(
            f"event type {pattern!r} is in {stream.name}, which partners may not read"
        )
    return stream


def durable_name(partner: str, stream: str) -> str:
    return f"partner-{partner}-{stream.removeprefix('YTS_').lower()}"


def plan_consumers(partner: str, types: list[str]) -> list[PartnerConsumer]:
    """One durable consumer per public stream, filtered to the requested types."""
    if not types:
        raise PartnerError("name at least one event type, e.g. --types 'yts.sessions.>'")
    by_stream: dict[str, list[str]] = {}
    for pattern in types:
        stream = public_stream_of(pattern)
        if not any(subject_matches(pattern, event_type) for event_type in CATALOG):
            raise PartnerError(f"event type {pattern!r} matches no event of the catalogue")
        chosen = by_stream.setdefault(stream.name, [])
        if pattern not in chosen:
            chosen.append(pattern)
    return [
        PartnerConsumer(stream, durable_name(partner, stream), tuple(subjects))
        for stream, subjects in by_stream.items()
    ]


def consumer_config(
    partner: str, consumer: PartnerConsumer, since: datetime | None
) -> ConsumerConfig:
    subjects = list(consumer.filter_subjects)
    config = ConsumerConfig(
        durable_name=consumer.durable,
        name=consumer.durable,
        description=f"partner {partner}: {', '.join(subjects)}",
        deliver_policy=DeliverPolicy.BY_START_TIME if since else DeliverPolicy.ALL,
        opt_start_time=since.astimezone(UTC) if since else None,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=PARTNER_ACK_WAIT_SECONDS,
        max_ack_pending=PARTNER_MAX_ACK_PENDING,
    )
    if len(subjects) == 1:
        config.filter_subject = subjects[0]
    else:
        config.filter_subjects = subjects
    return config


async def create_consumers(
    js: JetStreamContext,
    partner: str,
    consumers: list[PartnerConsumer],
    since: datetime | None,
    *,
    replace: bool = False,
) -> None:
    """Create the partner's durable consumers; an existing one is an error unless ``replace``
    (then it is deleted first: a new start position needs a new consumer)."""
    for consumer in consumers:
        try:
            await js.consumer_info(consumer.stream, consumer.durable)
            exists = True
        except NotFoundError:
            exists = False
        if exists and not replace:
            raise PartnerError(
                f"consumer {consumer.stream}/{consumer.durable} already exists: "
                "remove the partner first or use `yts partners replay`"
            )
        if exists:
            await js.delete_consumer(consumer.stream, consumer.durable)
        await js.add_consumer(consumer.stream, config=consumer_config(partner, consumer, since))


async def delete_consumers(js: JetStreamContext, consumers: list[PartnerConsumer]) -> None:
    for consumer in consumers:
        try:
            await js.delete_consumer(consumer.stream, consumer.durable)
        except NotFoundError:
            continue
