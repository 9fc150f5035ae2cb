"""Consuming events on a real nats-server: ack after commit, the inbox, dead letters with
reasons, transient faults retried instead of dropped, and nothing redelivered unseen."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import nats
import pytest
from nats.js.client import JetStreamContext
from prometheus_client import REGISTRY
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from yts_chassis.consumer import EventHandler, RejectEvent, RetryPolicy
from yts_chassis.logs import configure_logging
from yts_contracts.envelope import ReceivedEvent
from yts_contracts.streams import DLQ_STREAM, ENROLMENT_STREAM

from tests.chassis.rig import (
    ConsumerRig,
    applied_names,
    consumer_rig,
    record_school,
    school_event,
    until_applied,
)
from tests.support.events import stream_messages
from tests.support.services import eventually


async def dead_letters_of(js: JetStreamContext, consumer: str) -> list:
    messages = await stream_messages(js, DLQ_STREAM, "yts.dlq.tests.>", timeout=0.5)
    return [m for m in messages if m.headers and m.headers.get("yts-dlq-consumer") == consumer]


@pytest.mark.parametrize("batch_size", [1, 50])
async def test_poison_messages_go_to_the_dlq_with_a_reason_and_the_consumer_keeps_going(
    js: JetStreamContext, provisioned: str, database_factory, batch_size: int
) -> None:
    async with consumer_rig(
        js, provisioned, await database_factory("consumer"), batch_size=batch_size
    ) as rig:
        subject, headers, body = school_event("Before the poison")
        await js.publish(subject, body, headers=headers)
        # Not JSON at all.
        _, bad_headers, _ = school_event("ignored")
        await js.publish(subject, b"{not json", headers=bad_headers)
        # Valid JSON, invalid data (no district).
        _, invalid_headers, valid_body = school_event("No district")
        payload = json.loads(valid_body)
        del payload["district"]
        await js.publish(subject, json.dumps(payload).encode(), headers=invalid_headers)
        # No CloudEvents headers.
        await js.publish(subject, valid_body, headers={"Nats-Msg-Id": str(uuid.uuid4())})
        subject, headers, body = school_event("After the poison")
        await js.publish(subject, body, headers=headers)

        await until_applied(rig.db, ["Before the poison", "After the poison"])

        async def three_dead() -> list:
            dead = await dead_letters_of(js, rig.durable.durable)
            return dead if len(dead) == 3 else []

        dead = await eventually(three_dead)
        reasons = sorted(m.headers["yts-dlq-reason"] for m in dead)
        assert any("not JSON" in r for r in reasons), reasons
        assert any("district" in r and "Field required" in r for r in reasons), reasons
        assert any("missing CloudEvents header" in r for r in reasons), reasons
        assert all(m.headers["yts-dlq-original-subject"] == subject for m in dead)
        info = await js.consumer_info("YTS_ENROLMENT", rig.durable.durable)
        assert info.num_ack_pending == 0  # terminated, not waiting for redelivery


@pytest.mark.parametrize("batch_size", [1, 50])
async def test_a_body_nested_too_deeply_to_decode_is_dead_lettered_at_once_and_the_next_applies(
    js: JetStreamContext, provisioned: str, database_factory, batch_size: int
) -> None:
    async with consumer_rig(
        js, provisioned, await database_factory("consumer"), batch_size=batch_size
    ) as rig:
        # Valid CloudEvents headers; a body the JSON parser recurses on until it gives up.
        subject, headers, _ = school_event("ignored")
        await js.publish(subject, b"[" * 100_000 + b"]" * 100_000, headers=headers)
        subject, headers, body = school_event("After the nested body")
        await js.publish(subject, body, headers=headers)

        await until_applied(rig.db, ["After the nested body"])
        (letter,) = await eventually(lambda: dead_letters_of(js, rig.durable.durable))
        reason = letter.headers["yts-dlq-reason"]
        assert "not JSON" in reason, reason
        assert "recursion" in reason, reason
        assert letter.headers["yts-dlq-deliveries"] == "1"  # at once, not after retries
        info = await js.consumer_info(ENROLMENT_STREAM, rig.durable.durable)
        assert info.num_ack_pending == 0
        assert info.num_pending == 0
        assert info.num_redelivered == 0


async def test_a_body_over_the_size_limit_is_dead_lettered_at_once(
    js: JetStreamContext, provisioned: str, database_factory
) -> None:
    async with consumer_rig(
        js, provisioned, await database_factory("consumer"), max_event_bytes=1024
    ) as rig:
        # A valid event but for its size: the padding is a field consumers ignore.
        subject, headers, body = school_event("Too large")
        padded = json.dumps({**json.loads(body), "padding": "x" * 2000}).encode()
        await js.publish(subject, padded, headers=headers)
        subject, headers, body = school_event("Small enough")
        await js.publish(subject, body, headers=headers)

        await until_applied(rig.db, ["Small enough"])
        (letter,) = await eventually(lambda: dead_letters_of(js, rig.durable.durable))
        reason = letter.headers["yts-dlq-reason"]
        assert f"body of {len(padded)} bytes is over the limit of 1024 bytes" in reason
        assert letter.headers["yts-dlq-deliveries"] == "1"
        info = await js.consumer_info(ENROLMENT_STREAM, rig.durable.durable)
        assert info.num_ack_pending == 0


async def test_a_redelivered_or_republished_event_changes_nothing(
    js: JetStreamContext, provisioned: str, database_factory
) -> None:
    async with consumer_rig(js, provisioned, await database_factory("consumer")) as rig:
        event_id = str(uuid.uuid4())
        subject, headers, body = school_event("Once only", event_id=event_id)
        await js.publish(subject, body, headers=headers)
        # The same event again under another Nats-Msg-Id, so the server does not drop it.
        await js.publish(subject, body, headers={**headers, "Nats-Msg-Id": f"{event_id}-again"})
        subject2, headers2, body2 = school_event("Next")
        await js.publish(subject2, body2, headers=headers2)

        await until_applied(rig.db, ["Once only", "Next"])
        info = await js.consumer_info("YTS_ENROLMENT", rig.durable.durable)
        assert info.num_ack_pending == 0
        assert info.delivered.consumer_seq == 3
        assert await applied_names(rig.db) == ["Once only", "Next"]


def flaky(
    failures: int, error: BaseException, called_at: list[float] | None = None
) -> Callable[[ConsumerRig], EventHandler]:
    def make(rig: ConsumerRig) -> EventHandler:
        async def handler(session: AsyncSession, event: ReceivedEvent) -> None:
            rig.calls.append(event.attributes.id)
            if called_at is not None:
                called_at.append(time.monotonic())
            if len(rig.calls) <= failures:
                raise error
            await record_school(session, event)

        return handler

    return make


async def test_a_transient_database_fault_is_retried_with_delay_and_never_dead_lettered(
    js: JetStreamContext, provisioned: str, database_factory
) -> None:
    outage = OperationalError("SELECT 1", {}, ConnectionRefusedError("database is down"))
    retry = RetryPolicy(base_seconds=0.2, max_seconds=0.4, max_attempts=3)
    called_at: list[float] = []
    # More failures than max_attempts: a transient fault must still not be dead-lettered.
    async with consumer_rig(
        js,
        provisioned,
        await database_factory("consumer"),
        handler=flaky(5, outage, called_at),
        retry=retry,
    ) as rig:
        subject, headers, body = school_event("Survives the outage")
        await js.publish(subject, body, headers=headers)

        await until_applied(rig.db, ["Survives the outage"], timeout=15)
        assert len(rig.calls) == 6
        assert await dead_letters_of(js, rig.durable.durable) == []
    # Each redelivery waited at least the policy's delay (0.2 s, then 0.4 s, less jitter); a
    # nak without delay comes back within milliseconds.
    waits = [later - earlier for earlier, later in itertools.pairwise(called_at)]
    for deliveries, waited in enumerate(waits, start=1):
        shortest = min(retry.max_seconds, retry.base_seconds * 2 ** (deliveries - 1)) * 0.75
        assert waited >= shortest, (deliveries, waits)


@contextmanager
def consumer_warnings() -> Iterator[list[dict[str, Any]]]:
    """The warnings the chassis' consumer logs meanwhile, as structured events."""
    configure_logging("tests", "WARNING", "json")
    logged: list[dict[str, Any]] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if isinstance(record.msg, dict):
                logged.append({**record.msg, "level": record.levelname})

    handler = Keep(logging.WARNING)
    logger = logging.getLogger("yts_chassis.consumer")
    logger.addHandler(handler)
    try:
        yield logged
    finally:
        logger.removeHandler(handler)


def metric(name: str, **labels: str) -> float:
    """A sample of the registry ``/metrics`` serves (0 when absent)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_an_event_redelivered_past_the_attempt_limit_shows_in_metrics_and_warnings(
    js: JetStreamContext, provisioned: str, database_factory
) -> None:
    # A database outage outlasting max_attempts (3): deliveries 4, 5 and 6 are past the limit;
    # the event is kept, not dead-lettered, and applied once the database is back.
    outage = OperationalError("SELECT 1", {}, ConnectionRefusedError("database is down"))
    with consumer_warnings() as warnings:
        async with consumer_rig(
            js, provisioned, await database_factory("consumer"), handler=flaky(5, outage)
        ) as rig:
            subject, headers, body = school_event("Outlasts the attempts")
            await js.publish(subject, body, headers=headers)

            await until_applied(rig.db, ["Outlasts the attempts"], timeout=15)
            assert await dead_letters_of(js, rig.durable.durable) == []
            consumer = rig.durable.durable
    assert (
        metric("yts_events_redelivered_past_limit_total", service="tests", consumer=consumer) == 3
    )
    past = [w for w in warnings if w["event"] == "events redelivered past the attempt limit"]
    assert [(w["level"], w["consumer"], w["most_deliveries"]) for w in past] == [
        ("WARNING", consumer, 4),
        ("WARNING", consumer, 5),
        ("WARNING", consumer, 6),
    ]


async def test_a_handler_that_keeps_failing_is_dead_lettered_after_the_last_attempt(
    js: JetStreamContext, provisioned: str, database_factory
) -> None:
    async with consumer_rig(
        js, provisioned, await database_factory("consumer"), handler=flaky(100, ValueError("bug"))
    ) as rig:
        subject, headers, body = school_event("Never applies")
        await js.publish(subject, body, headers=headers)

        async def dead() -> list:
            return await dead_letters_of(js, rig.durable.durable)

        letters = await eventually(dead, timeout=15)
        assert "handler failed 3 times" in letters[0].headers["yts-dlq-reason"]
        assert "ValueError('bug')" in letters[0].headers["yts-dlq-reason"]
        assert len(rig.calls) == 3
        assert await applied_names(rig.db) == []


async def test_an_event_the_handler_rejects_is_dead_lettered_at_once_and_the_batch_goes_on(
    js: JetStreamContext, provisioned: str, database_factory
) -> None:
    def rejecting(rig: ConsumerRig) -> EventHandler:
        async def handler(session: AsyncSession, event: ReceivedEvent) -> None:
            rig.calls.append(event.attributes.id)
            if getattr(event.data, "name", "") == "Rejected":
                raise RejectEvent("the school is not one of ours")
            await record_school(session, event)

        return handler

    async with consumer_rig(
        js, provisioned, await database_factory("consumer"), batch_size=20, handler=rejecting
    ) as rig:
        for name in ("First", "Rejected", "Third"):
            subject, headers, body = school_event(name)
            await js.publish(subject, body, headers=headers)

        await until_applied(rig.db, ["First", "Third"])
        letters = await eventually(lambda: dead_letters_of(js, rig.durable.durable))
        assert letters[0].headers["yts-dlq-reason"] == "the school is not one of ours"


async def test_a_batch_slower_than_the_ack_wait_is_kept_in_progress_not_given_to_a_replica(
    js: JetStreamContext, provisioned: str, database_factory
) -> None:
    def slow(rig: ConsumerRig) -> EventHandler:
        async def handler(session: AsyncSession, event: ReceivedEvent) -> None:
            rig.calls.append(event.attributes.id)
            await asyncio.sleep(3.5)  # well past the 1.5 s ack wait
            await record_school(session, event)

        return handler

    async with consumer_rig(
        js, provisioned, await database_factory("consumer"), handler=slow, ack_wait=1.5
    ) as rig:
        subject, headers, body = school_event("Slow but once")
        await js.publish(subject, body, headers=headers)
        await eventually(lambda: _started(rig))
        # A second replica pulls from the same durable while the first is still working.
        replica = await js.pull_subscribe_bind(durable=rig.durable.durable, stream="YTS_ENROLMENT")
        with pytest.raises(nats.errors.TimeoutError):
            await replica.fetch(1, timeout=2.5)
        await replica.unsubscribe()

        await until_applied(rig.db, ["Slow but once"], timeout=15)
        assert len(rig.calls) == 1


async def _started(rig: ConsumerRig) -> bool:
    return bool(rig.calls)


async def test_events_trickling_into_short_batches_are_applied_at_once_not_after_the_ack_wait(
    js: JetStreamContext, provisioned: str, database_factory
) -> None:
    # A batch consumer with a short fill deadline, fed one event at a time: most fetches end
    # on a partial batch whose deadline runs out. Each event must be applied as it comes, not
    # held by a restarted pull loop until the server redelivers it (ack_wait: a minute here).
    async with consumer_rig(
        js,
        provisioned,
        await database_factory("consumer"),
        batch_size=50,
        batch_timeout=0.01,
        ack_wait=60,
    ) as rig:
        names = [f"School {n:03d}" for n in range(300)]
        for n, name in enumerate(names):
            subject, headers, body = school_event(name)
            await js.publish(subject, body, headers=headers)
            await asyncio.sleep(0.001 * (n % 13))

        await until_applied(rig.db, names, timeout=20)
        info = await js.consumer_info("YTS_ENROLMENT", rig.durable.durable)
        assert info.num_ack_pending == 0
        assert info.num_redelivered == 0


async def test_a_lone_event_is_applied_without_waiting_for_its_batch_to_fill(
    js: JetStreamContext, provisioned: str, database_factory
) -> None:
    # A batch consumer whose pull may wait a minute for events: one event comes, and nothing
    # after it. A fetch ends as soon as nothing more is pending, so the event is applied in a
    # batch of one instead of waiting out the minute for 49 more.
    async with consumer_rig(
        js, provisioned, await database_factory("consumer"), batch_size=50, batch_timeout=60
    ) as rig:
        subject, headers, body = school_event("Alone")
        await js.publish(subject, body, headers=headers)
        await until_applied(rig.db, ["Alone"], timeout=20)
