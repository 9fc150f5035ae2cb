"""Faults put in on purpose, to see the crash tests fail (docs/reliability.md, "Can it fail?").

``YTS_RELIABILITY_SABOTAGE=<name>`` starts the named service(s) of a crash test through a factory
of this module: it patches the chassis or the service in that process only, then builds the
service's app as usual. Nothing else runs differently, and no file of the services changes.
"""

from __future__ import annotations

import importlib
import itertools
import os
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI

SABOTAGE_ENV = "YTS_RELIABILITY_SABOTAGE"
_HERE = "tests.support.sabotage"
SABOTAGES: dict[str, dict[str, str]] = {
    # reporting never acks a session.completed: redelivered every ack_wait, for ever.
    "skip-ack": {"reporting": f"{_HERE}:reporting_skips_acks"},
    # sessions' relay marks one module.completed in three as published without publishing it.
    "lose-events": {"sessions": f"{_HERE}:sessions_loses_events"},
    # enrolment stages each trainer.enrolled twice, under two event ids.
    "publish-twice": {"enrolment": f"{_HERE}:enrolment_publishes_twice"},
    # every consumer applies redeliveries again: no inbox lookup, nothing recorded.
    "no-inbox": {
        service: f"{_HERE}:{service}_without_inbox"
        for service in ("sessions", "notifications", "reporting")
    },
}


def factories_from_environment() -> dict[str, str]:
    name = os.environ.get(SABOTAGE_ENV, "")
    if not name:
        return {}
    if name not in SABOTAGES:
        raise ValueError(f"{SABOTAGE_ENV}={name!r}: one of {', '.join(SABOTAGES)}")
    return SABOTAGES[name]


def _app(service: str) -> FastAPI:
    app: FastAPI = importlib.import_module(f"yts_{service}.main").create_app()
    return app


def reporting_skips_acks() -> FastAPI:
    from yts_chassis.consumer import EventConsumer

    ack = EventConsumer._ack

    async def skipping(self: EventConsumer, *groups: tuple[Sequence[Any], str]) -> None:
        kept = [
            ([m for m in messages if not m.subject.endswith(".session.completed.v1")], outcome)
            for messages, outcome in groups
        ]
        await ack(self, *kept)

    EventConsumer._ack = skipping  # type: ignore[method-assign]
    return _app("reporting")


def sessions_loses_events() -> FastAPI:
    from yts_chassis.outbox import OutboxRelay

    publish = OutboxRelay._publish_in_order
    count = itertools.count()

    async def losing(self: OutboxRelay, publisher: Any, rows: Sequence[Any]) -> Any:
        lost = [
            row
            for row in rows
            if row.subject.endswith(".module.completed.v1") and next(count) % 3 == 0
        ]
        sent = [row for row in rows if row not in lost]
        acks, unpublished = await publish(self, publisher, sent)
        # "Published": marked so, never sent.
        return [*acks, *((row.seq, None) for row in lost)], unpublished

    OutboxRelay._publish_in_order = losing  # type: ignore[method-assign]
    return _app("sessions")


def enrolment_publishes_twice() -> FastAPI:
    from yts_chassis.outbox import Outbox

    add = Outbox.add

    async def twice(self: Outbox, session: Any, data: Any, **options: Any) -> Any:
        envelope = await add(self, session, data, **options)
        if data.event_type.endswith(".trainer.enrolled.v1"):
            await add(self, session, data, **options)
        return envelope

    Outbox.add = twice  # type: ignore[method-assign]
    return _app("enrolment")


def _without_inbox(service: str) -> FastAPI:
    from yts_chassis.inbox import Inbox

    async def seen(self: Inbox, session: Any, consumer: str, event_ids: Any) -> set[str]:
        return set()

    async def record(self: Inbox, session: Any, consumer: str, events: Any) -> None:
        return None

    Inbox.seen = seen  # type: ignore[method-assign]
    Inbox.record = record  # type: ignore[method-assign]
    return _app(service)


def sessions_without_inbox() -> FastAPI:
    return _without_inbox("sessions")


def notifications_without_inbox() -> FastAPI:
    return _without_inbox("notifications")


def reporting_without_inbox() -> FastAPI:
    return _without_inbox("reporting")
