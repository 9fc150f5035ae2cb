"""What the access buckets hold, one JSON value per key."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, model_validator

from yts_chassis.access.buckets import (
    PERSON_PREFIX,
    SESSION_PREFIX,
    SIGNING_KEY_PREFIX,
    TOKEN_PREFIX,
)
from yts_chassis.access.principal import Role

SECRET_PREFIX = "yts_"  # what a static token starts with


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def generate_token() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


class TokenRecord(BaseModel):
    """A static token, kept under the SHA-256 of the token (the token itself is never kept)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str  # public: what `yts tokens list` shows and `revoke` takes
    role: Role
    label: str
    school_id: uuid.UUID | None = None
    created_at: AwareDatetime
    expires_at: AwareDatetime
    revoked_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _school_for_coordinators_only(self) -> TokenRecord:
        if self.role is Role.coordinator and self.school_id is None:
            raise ValueError("a coordinator token is bound to a school: give its id")
        if self.role is not Role.coordinator and self.school_id is not None:
            raise ValueError("only coordinator tokens are bound to a school")
        return self

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


def new_token_id() -> str:
    return uuid.uuid4().hex[:12]


class Revocation(BaseModel):
    """A session signed out or a person revoked: their access tokens issued until
    ``revoked_at`` are refused."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    revoked_at: AwareDatetime
    reason: str = ""


def token_key(digest: str) -> str:
    return f"{TOKEN_PREFIX}{digest}"


def signing_key_key(kid: str) -> str:
    return f"{SIGNING_KEY_PREFIX}{kid}"


def session_key(session_id: str) -> str:
    return f"{SESSION_PREFIX}{session_id}"


def person_key(person_id: uuid.UUID) -> str:
    return f"{PERSON_PREFIX}{person_id}"
