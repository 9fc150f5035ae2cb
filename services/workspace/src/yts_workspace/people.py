"""People's accounts (programme staff and coordinators) in ``yts-workspace-people``."""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError, NoKeysError
from nats.js.kv import KeyValue
from pydantic import BaseModel
from yts_chassis.access import Role

from yts_workspace.buckets import digest


class Person(BaseModel):
    id: uuid.UUID
    email: str
    name: str
    role: Role  # admin (programme staff) or coordinator
    school_id: uuid.UUID | None = None
    language: str = "kk"
    created_at: datetime
    revoked_at: datetime | None = None
    last_signed_in_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class EmailTaken(Exception):
    """An address has one account."""


class PersonNotKnown(LookupError):
    pass


def normal_email(email: str) -> str:
    return email.strip().lower()


def valid_email(email: str) -> bool:
    """Enough of an address to mail a link to (the mail server says the rest)."""
    email = normal_email(email)
    return 0 < email.find("@") < len(email) - 1 and len(email) <= 254 and " " not in email


def _person_key(person_id: uuid.UUID) -> str:
    return f"person.{person_id}"


def _email_key(email: str) -> str:
    return f"email.{digest(normal_email(email))}"


class People:
    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv

    async def add(
        self,
        *,
        email: str,
        name: str,
        role: Role,
        school_id: uuid.UUID | None = None,
        language: str = "kk",
    ) -> Person:
        if role not in (Role.admin, Role.coordinator):
            raise ValueError("a person is programme staff (admin) or a coordinator")
        if (role is Role.coordinator) != (school_id is not None):
            raise ValueError("a coordinator, and only a coordinator, belongs to a school")
        person = Person(
            id=uuid.uuid4(),
            email=normal_email(email),
            name=name.strip(),
            role=role,
            school_id=school_id,
            language=language,
            created_at=datetime.now(UTC),
        )
        try:
            # The address's index first, with create: of two concurrent adds one wins.
            await self.kv.create(_email_key(email), str(person.id).encode())
        except KeyWrongLastSequenceError:
            raise EmailTaken(person.email) from None
        await self.kv.put(_person_key(person.id), person.model_dump_json().encode())
        return person

    async def get(self, person_id: uuid.UUID) -> Person | None:
        try:
            entry = await self.kv.get(_person_key(person_id))
        except KeyNotFoundError:
            return None
        return Person.model_validate_json(entry.value) if entry.value else None

    async def by_email(self, email: str) -> Person | None:
        try:
            entry = await self.kv.get(_email_key(email))
        except KeyNotFoundError:
            return None
        if not entry.value:
            return None
        return await self.get(uuid.UUID(entry.value.decode()))

    async def all(self) -> list[Person]:
        try:
            keys = await self.kv.keys()
        except NoKeysError:
            return []
        found = []
        for key in keys:
            if key.startswith("person."):
                person = await self.get(uuid.UUID(key.removeprefix("person.")))
                if person is not None:
                    found.append(person)
        return sorted(found, key=lambda p: (p.role.value, p.name.lower()))

    async def note_sign_in(self, person_id: uuid.UUID, at: datetime | None = None) -> None:
        """When the person last signed in, for staff's list (a lost race with another write of
        the same account leaves the older value: it is a hint, not a record)."""
        try:
            entry = await self.kv.get(_person_key(person_id))
        except KeyNotFoundError:
            return
        person = Person.model_validate_json(entry.value or b"{}")
        noted = person.model_copy(update={"last_signed_in_at": at or datetime.now(UTC)})
        with contextlib.suppress(KeyWrongLastSequenceError):
            await self.kv.update(
                _person_key(person_id), noted.model_dump_json().encode(), last=entry.revision
            )

    async def revoke(self, person_id: uuid.UUID) -> Person:
        try:
            entry = await self.kv.get(_person_key(person_id))
        except KeyNotFoundError:
            raise PersonNotKnown(person_id) from None
        person = Person.model_validate_json(entry.value or b"{}")
        if person.revoked_at is not None:
            return person
        revoked = person.model_copy(update={"revoked_at": datetime.now(UTC)})
        await self.kv.update(
            _person_key(person_id), revoked.model_dump_json().encode(), last=entry.revision
        )
        return revoked
