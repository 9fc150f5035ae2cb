"""Writing the access bucket: what ``yts tokens`` and the issuer of people's sign-ins (the
workspace) do. Services never write it (their NATS users may only read)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from nats.js.client import JetStreamContext
from nats.js.errors import KeyNotFoundError, NoKeysError
from nats.js.kv import KeyValue

from yts_chassis.access.buckets import ACCESS_BUCKET, REVOCATION_SECONDS, TOKEN_PREFIX
from yts_chassis.access.people import SigningKey
from yts_chassis.access.principal import Role
from yts_chassis.access.records import (
    Revocation,
    TokenRecord,
    generate_token,
    hash_token,
    new_token_id,
    person_key,
    session_key,
    signing_key_key,
    token_key,
)

DEFAULT_TOKEN_LIFETIME = timedelta(days=365)
MAX_TOKEN_LIFETIME = timedelta(days=2 * 365)


class TokenNotFound(LookupError):
    pass


class TokenAmbiguous(LookupError):
    pass


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once, never stored
    record: TokenRecord


async def access_bucket(js: JetStreamContext) -> KeyValue:
    return await js.key_value(ACCESS_BUCKET)


class StaticTokens:
    """Partners' and scripts' bearer tokens (``token.<sha256>`` entries)."""

    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv

    @classmethod
    async def of(cls, js: JetStreamContext) -> StaticTokens:
        return cls(await access_bucket(js))

    async def create(
        self,
        role: Role,
        label: str,
        school_id: uuid.UUID | None = None,
        *,
        expires_in: timedelta = DEFAULT_TOKEN_LIFETIME,
        now: datetime | None = None,
    ) -> IssuedToken:
        """A new token: its hash and record stored, the token itself returned (shown once)."""
        if not timedelta(0) < expires_in <= MAX_TOKEN_LIFETIME:
            raise ValueError(
                f"a token lives more than 0 and at most {MAX_TOKEN_LIFETIME.days} days"
            )
        if not label.strip():
            raise ValueError("a token's label says who holds it: it may not be empty")
        created = now or datetime.now(UTC)
        record = TokenRecord(
            id=new_token_id(),
            role=role,
            label=label.strip(),
            school_id=school_id,
            created_at=created,
            expires_at=created + expires_in,
        )
        token = generate_token()
        await self.kv.create(token_key(hash_token(token)), record.model_dump_json().encode())
        return IssuedToken(token, record)

    async def _entries(self) -> list[tuple[str, TokenRecord, int]]:
        """Every token's (bucket key, record, revision), oldest first."""
        try:
            keys = await self.kv.keys()
        except NoKeysError:
            return []
        found = []
        for key in keys:
            if not key.startswith(TOKEN_PREFIX):
                continue
            try:
                entry = await self.kv.get(key)
            except KeyNotFoundError:
                continue
            if entry.value:
                record = TokenRecord.model_validate_json(entry.value)
                found.append((key, record, entry.revision or 0))
        return sorted(found, key=lambda item: item[1].created_at)

    async def list(self) -> list[TokenRecord]:
        return [record for _, record, _ in await self._entries()]

    async def revoke(self, label_or_id: str, *, now: datetime | None = None) -> TokenRecord:
        """Revoke the token with this id, or the one unrevoked token with this label."""
        entries = await self._entries()
        matches = [entry for entry in entries if entry[1].id == label_or_id]
        if not matches:
            matches = [
                entry
                for entry in entries
                if entry[1].label == label_or_id and entry[1].revoked_at is None
            ]
        if not matches:
            raise TokenNotFound(f"no token with the id or label {label_or_id!r}")
        if len(matches) > 1:
            ids = ", ".join(entry[1].id for entry in matches)
            raise TokenAmbiguous(
                f"{len(matches)} tokens have the label {label_or_id!r}: give one id of {ids}"
            )
        key, record, revision = matches[0]
        if record.revoked_at is not None:
            return record
        revoked = record.model_copy(update={"revoked_at": now or datetime.now(UTC)})
        # Compare-and-set: a concurrent change makes this fail rather than be overwritten.
        await self.kv.update(key, revoked.model_dump_json().encode(), last=revision)
        return revoked


async def publish_signing_key(js: JetStreamContext, key: SigningKey) -> None:
    """Make a key's public half known to every service (the issuer does this at start)."""
    kv = await access_bucket(js)
    await kv.put(signing_key_key(key.kid), json.dumps(key.public_jwk()).encode())


async def withdraw_signing_key(js: JetStreamContext, kid: str) -> None:
    """Every token signed with this key is refused from now on (a key rotated out)."""
    kv = await access_bucket(js)
    await kv.delete(signing_key_key(kid))


async def _revoke(js: JetStreamContext, key: str, reason: str, now: datetime | None) -> None:
    revocation = Revocation(revoked_at=now or datetime.now(UTC), reason=reason)
    # A put with a TTL of its own: it is kept as long as a token it refuses can live.
    await js.publish(
        f"$KV.{ACCESS_BUCKET}.{key}",
        revocation.model_dump_json().encode(),
        msg_ttl=REVOCATION_SECONDS,
    )


async def revoke_session(
    js: JetStreamContext,
    session_id: str,
    *,
    reason: str = "signed out",
    now: datetime | None = None,
) -> None:
    """End a sign-in session: its access tokens are refused by every service at once."""
    await _revoke(js, session_key(session_id), reason, now)


async def revoke_person(
    js: JetStreamContext,
    person_id: uuid.UUID,
    *,
    reason: str = "access revoked",
    now: datetime | None = None,
) -> None:
    """Refuse every access token a person holds now (tokens minted later are accepted: the
    issuer decides whether to mint them)."""
    await _revoke(js, person_key(person_id), reason, now)
