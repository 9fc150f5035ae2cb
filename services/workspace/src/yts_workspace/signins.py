"""Sign-in sessions in ``yts-workspace-signins``: the browser holds an opaque random id (the
cookie); the bucket keeps its hash with the person, a CSRF token, and when it was made and last
used. A session ends when unused for the idle time, at its absolute life, or at sign-out. Its
public id (``sid``, in the access tokens minted for it) is what ``revoke_session`` names."""

from __future__ import annotations

import contextlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError, NoKeysError
from nats.js.kv import KeyValue
from pydantic import BaseModel, ValidationError

from yts_workspace.buckets import digest

# A session's last use is written at most this often (not on every page).
TOUCH_EVERY = timedelta(minutes=1)


class SignIn(BaseModel):
    sid: str
    person_id: uuid.UUID
    csrf: str
    made_at: datetime
    used_at: datetime


@dataclass(frozen=True)
class Lifetimes:
    idle: timedelta
    absolute: timedelta

    def ended(self, signin: SignIn, now: datetime) -> bool:
        return now - signin.used_at > self.idle or now - signin.made_at > self.absolute


def signin_key(cookie: str) -> str:
    return f"signin.{digest(cookie)}"


class SignIns:
    def __init__(self, kv: KeyValue, lifetimes: Lifetimes) -> None:
        self.kv = kv
        self.lifetimes = lifetimes

    async def start(self, person_id: uuid.UUID) -> tuple[str, SignIn]:
        """A new session: the cookie's value (never stored) and its record."""
        cookie = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        signin = SignIn(
            sid=uuid.uuid4().hex,
            person_id=person_id,
            csrf=secrets.token_urlsafe(32),
            made_at=now,
            used_at=now,
        )
        await self.kv.create(signin_key(cookie), signin.model_dump_json().encode())
        return cookie, signin

    async def find(self, cookie: str | None, now: datetime | None = None) -> SignIn | None:
        """The live session of a cookie (its last use noted); None if none or ended."""
        if not cookie or len(cookie) > 200:
            return None
        now = now or datetime.now(UTC)
        key = signin_key(cookie)
        try:
            entry = await self.kv.get(key)
            signin = SignIn.model_validate_json(entry.value or b"")
        except (KeyNotFoundError, ValidationError):
            return None
        if self.lifetimes.ended(signin, now):
            await self._forget(key)
            return None
        if now - signin.used_at > TOUCH_EVERY:
            signin = signin.model_copy(update={"used_at": now})
            # Another page of the same session may have noted it first.
            with contextlib.suppress(KeyWrongLastSequenceError):
                await self.kv.update(key, signin.model_dump_json().encode(), last=entry.revision)
        return signin

    async def end(self, cookie: str) -> SignIn | None:
        key = signin_key(cookie)
        try:
            entry = await self.kv.get(key)
            signin = SignIn.model_validate_json(entry.value or b"")
        except (KeyNotFoundError, ValidationError):
            return None
        await self._forget(key)
        return signin

    async def end_all_of(self, person_id: uuid.UUID) -> list[SignIn]:
        """Every session of a person ended (staff revoked their access)."""
        try:
            keys = await self.kv.keys()
        except NoKeysError:
            return []
        ended = []
        for key in keys:
            try:
                entry = await self.kv.get(key)
                signin = SignIn.model_validate_json(entry.value or b"")
            except (KeyNotFoundError, ValidationError):
                continue
            if signin.person_id == person_id:
                await self._forget(key)
                ended.append(signin)
        return ended

    async def _forget(self, key: str) -> None:
        with contextlib.suppress(KeyNotFoundError):
            await self.kv.delete(key)
