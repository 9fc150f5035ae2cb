"""Who changed what: the recent events of the streams people change through requests
(enrolment, sessions, credentials), each with the actor its request recorded (the CloudEvents
``ce-actor`` attribute: ``person:<id>``, ``token:<token id>`` or ``admin:bootstrap``), read
over NATS from each stream's last message backwards, one message get at a time.

Only attributes and the ``school_id`` of an event's data are read: no trainer's data is kept
or shown. The actor is named from the workspace's people bucket (a person's name and role) or
the access bucket (a static token's label): adults, shown to programme staff only.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError
from yts_chassis.access import AccessView, Role
from yts_contracts.envelope import H_ACTOR, H_TIME, H_TYPE
from yts_contracts.streams import CREDENTIALS_STREAM, ENROLMENT_STREAM, SESSIONS_STREAM

from yts_workspace.people import People

AUDITED_STREAMS = (ENROLMENT_STREAM, SESSIONS_STREAM, CREDENTIALS_STREAM)
READ_PER_STREAM = 200  # the last events of each stream that a page looks through
BOOTSTRAP = "admin:bootstrap"


@dataclass(frozen=True)
class Change:
    """One event as the audit shows it."""

    at: datetime
    event_type: str
    school_id: uuid.UUID | None
    actor: str | None  # None: no request caused it (a service's own), or it predates actors
    stream: str
    seq: int


@dataclass(frozen=True)
class Actor:
    """Who an actor id is, in words: a person's name and role, or a static token's label."""

    key: str
    name: str | None  # None: not known here (an account or a token since removed)
    kind: str  # person, token or bootstrap
    role: Role | None = None


async def recent_changes(js: JetStreamContext, per_stream: int = READ_PER_STREAM) -> list[Change]:
    """The last ``per_stream`` events of each audited stream, newest first."""
    found = await asyncio.gather(*(_recent(js, stream, per_stream) for stream in AUDITED_STREAMS))
    return sorted((c for changes in found for c in changes), key=lambda c: c.at, reverse=True)


async def _recent(js: JetStreamContext, stream: str, count: int) -> list[Change]:
    state = (await js.stream_info(stream)).state
    changes: list[Change] = []
    seq = state.last_seq
    while seq >= max(state.first_seq, 1) and len(changes) < count:
        try:
            raw = await js.get_msg(stream, seq)
        except NotFoundError:  # deleted from the stream: nothing to show
            seq -= 1
            continue
        change = _change(stream, seq, raw.headers or {}, raw.data or b"")
        if change is not None:
            changes.append(change)
        seq -= 1
    return changes


def _change(stream: str, seq: int, headers: dict[str, str], body: bytes) -> Change | None:
    event_type, moment = headers.get(H_TYPE), headers.get(H_TIME)
    if not event_type or not moment:
        return None  # not an event of the contracts: nothing to say about it
    try:
        at = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    except ValueError:
        return None
    return Change(at, event_type, _school_of(body), headers.get(H_ACTOR), stream, seq)


def _school_of(body: bytes) -> uuid.UUID | None:
    try:
        school = json.loads(body).get("school_id")
        return uuid.UUID(school) if school else None
    except (ValueError, AttributeError, TypeError):
        return None


async def actors_named(
    keys: Iterable[str | None], people: People, access: AccessView
) -> dict[str, Actor]:
    """Each actor id in words."""
    tokens = {record.id: record for record in access.tokens.values()}
    named: dict[str, Actor] = {}
    for key in {k for k in keys if k}:
        kind, _, ident = key.partition(":")
        if key == BOOTSTRAP:
            named[key] = Actor(key, None, "bootstrap", Role.admin)
        elif kind == "person":
            try:
                person = await people.get(uuid.UUID(ident))
            except ValueError:
                person = None
            named[key] = Actor(
                key,
                person.name if person else None,
                "person",
                person.role if person else None,
            )
        elif kind == "token":
            record = tokens.get(ident)
            named[key] = Actor(
                key, record.label if record else None, "token", record.role if record else None
            )
    return named
