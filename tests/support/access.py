"""Static tokens for tests, made as ``yts tokens create`` makes them: in the access bucket of
the test's nats-server, which every service there follows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import nats
from yts_chassis.access import (
    DEFAULT_TOKEN_LIFETIME,
    AccessView,
    IssuedToken,
    Role,
    StaticTokens,
    TokenRecord,
    generate_token,
    hash_token,
)
from yts_chassis.access.records import token_key


async def issue(
    nats_url: str,
    role: Role,
    school_id: uuid.UUID | None = None,
    *,
    label: str | None = None,
    expires_in: timedelta = DEFAULT_TOKEN_LIFETIME,
    now: datetime | None = None,
) -> IssuedToken:
    nc = await nats.connect(nats_url)
    try:
        tokens = await StaticTokens.of(nc.jetstream())
        return await tokens.create(
            role,
            label or f"{role.value} {school_id or ''}",
            school_id,
            expires_in=expires_in,
            now=now,
        )
    finally:
        await nc.close()


async def token_for(nats_url: str, role: Role, school_id: uuid.UUID | None = None) -> str:
    return (await issue(nats_url, role, school_id)).token


async def bearer_for(
    nats_url: str, role: Role, school_id: uuid.UUID | None = None
) -> dict[str, str]:
    return {"Authorization": f"Bearer {await token_for(nats_url, role, school_id)}"}


def known_to(view: AccessView, role: Role, label: str, school_id: uuid.UUID | None = None) -> str:
    """A static token put straight into a service's copy of the access bucket, as its watch
    would put it, for an app run without its lifespan (no NATS); the copy counts as loaded."""
    made = datetime.now(UTC)
    record = TokenRecord(
        id=uuid.uuid4().hex[:12],
        role=role,
        label=label,
        school_id=school_id,
        created_at=made,
        expires_at=made + DEFAULT_TOKEN_LIFETIME,
    )
    token = generate_token()
    view.apply(token_key(hash_token(token)), 1, record.model_dump_json().encode())
    view.loaded = True
    return token
