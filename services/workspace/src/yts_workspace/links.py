"""One-time sign-in links: a random token mailed to the person, kept only as its hash in
``yts-workspace-links`` for a short time, good once (taken with a delete that names the
revision it read, so that of two concurrent uses one wins). Never on the event bus."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue
from pydantic import BaseModel, ValidationError

from yts_workspace.buckets import digest


class LinkRecord(BaseModel):
    person_id: uuid.UUID
    made_at: datetime


def link_key(token: str) -> str:
    return f"link.{digest(token)}"


class Links:
    def __init__(self, kv: KeyValue, life: timedelta) -> None:
        self.kv = kv
        self.life = life

    async def make(self, person_id: uuid.UUID) -> str:
        """A new link's token (mailed, never stored)."""
        token = secrets.token_urlsafe(32)
        record = LinkRecord(person_id=person_id, made_at=datetime.now(UTC))
        await self.kv.create(link_key(token), record.model_dump_json().encode())
        return token

    async def take(self, token: str, now: datetime | None = None) -> uuid.UUID | None:
        """The person a link signs in, once; None when it is unknown, used or too old."""
        if not token or len(token) > 200:
            return None
        key = link_key(token)
        try:
            entry = await self.kv.get(key)
        except KeyNotFoundError:
            return None
        try:
            record = LinkRecord.model_validate_json(entry.value or b"")
        except ValidationError:
            return None
        try:
            await self.kv.delete(key, last=entry.revision)
        except KeyWrongLastSequenceError:
            return None  # taken by a concurrent use
        if (now or datetime.now(UTC)) - record.made_at > self.life:
            return None
        return record.person_id
