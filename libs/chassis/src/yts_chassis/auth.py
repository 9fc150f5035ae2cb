"""Bearer authentication with roles: admin, coordinator (bound to one school), partner
(read-only reporting).

A bearer is the bootstrap admin token of the service's settings, a static token (kept as its
SHA-256 in the tokens bucket, with an expiry and a revocation), or a signed-in person's
short-lived signed token (``yts_chassis.access.people``). Every check is made against the
service's in-memory copy of the access buckets (``yts_chassis.access.view``); until that copy
has loaded, a bearer other than the bootstrap admin gets a 503, never a guess.
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import SecretStr

from yts_chassis.access.people import (
    KeyUnknown,
    TokenRefused,
    looks_like_person_token,
    read_person_token,
)
from yts_chassis.access.principal import CURRENT_ACTOR, Principal, Role
from yts_chassis.access.records import (
    hash_token,
    person_key,
    session_key,
    signing_key_key,
    token_key,
)
from yts_chassis.access.view import AccessView, KindCopy
from yts_chassis.errors import Problem
from yts_chassis.refusals import NotYourSchool, problem_of

__all__ = [
    "Authenticator",
    "Principal",
    "Role",
    "caller_identity",
    "ensure_school_access",
    "hash_token",
    "require_roles",
    "school_scope",
]

_UNKNOWN = TokenRefused("Unknown token", "The bearer token is not valid (revoked or mistyped).")


class _NotHeld(Exception):
    """The copy lacks an entry that may exist (made an instant ago): ask the bucket."""

    def __init__(self, copy: KindCopy[Any], key: str) -> None:
        super().__init__(key)
        self.copy = copy
        self.key = key


class Authenticator:
    """Answers "who holds this bearer token?" from the service's copy of the access buckets."""

    def __init__(
        self,
        admin_token: SecretStr | None,
        view: AccessView,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        load_wait_seconds: float = 0.0,
    ) -> None:
        self._admin_hash = hash_token(admin_token.get_secret_value()) if admin_token else None
        self.view = view
        self.clock = clock
        self.load_wait_seconds = load_wait_seconds

    def _bootstrap_admin(self, digest: str) -> bool:
        return self._admin_hash is not None and hmac.compare_digest(digest, self._admin_hash)

    def _who(self, token: str, *, looked_up: bool) -> Principal:
        digest = hash_token(token)
        if self._bootstrap_admin(digest):
            return Principal(
                role=Role.admin, label="bootstrap admin", caller=digest, actor="admin:bootstrap"
            )
        if not self.view.loaded:
            raise Problem(
                503,
                "Access data not loaded yet",
                "This service is still loading who may call it; retry in a moment.",
                headers={"Retry-After": "1"},
            )
        if looks_like_person_token(token):
            return self._person(token, looked_up=looked_up)
        record = self.view.tokens.get(token_key(digest))
        if record is None:
            if not looked_up:
                raise _NotHeld(self.view.tokens, token_key(digest))
            raise _UNKNOWN
        if record.revoked_at is not None:
            raise TokenRefused("Token revoked", "This token was revoked; ask programme staff.")
        if record.expired(self.clock()):
            raise TokenRefused(
                "Token expired",
                f"This token expired on {record.expires_at:%Y-%m-%d}; ask programme staff.",
            )
        return Principal(
            role=record.role,
            label=record.label,
            school_id=record.school_id,
            caller=digest,
            actor=f"token:{record.id}",
        )

    def _person(self, token: str, *, looked_up: bool) -> Principal:
        view = self.view
        try:
            claims = read_person_token(
                token, lambda kid: view.signing_keys.get(signing_key_key(kid)), self.clock()
            )
        except KeyUnknown as unknown:
            if not looked_up:
                raise _NotHeld(view.signing_keys, signing_key_key(unknown.kid)) from None
            raise TokenRefused(
                "Invalid access token", "The key that signed this token is not known."
            ) from None
        if view.revocations.get(session_key(claims.session_id)) is not None:
            raise TokenRefused("Signed out", "This sign-in session has ended; sign in again.")
        revoked = view.revocations.get(person_key(claims.person_id))
        if revoked is not None and claims.issued_at <= revoked.revoked_at:
            raise TokenRefused("Access revoked", "Your access was revoked; ask programme staff.")
        return Principal(
            role=claims.role,
            label=f"person {claims.person_id}",
            school_id=claims.school_id,
            caller=f"person:{claims.person_id}",
            person_id=claims.person_id,
            session_id=claims.session_id,
            actor=f"person:{claims.person_id}",
        )

    async def authenticate(self, token: str) -> Principal:
        """The caller, or a 401 saying why not (a 503 if the copy has not loaded within
        ``load_wait_seconds``)."""
        if not self._bootstrap_admin(hash_token(token)):
            await self.view.until_loaded(self.load_wait_seconds)
        try:
            try:
                return self._who(token, looked_up=False)
            except _NotHeld as missing:
                await self.view.look_up(missing.copy, missing.key)
                return self._who(token, looked_up=True)
        except TokenRefused as refused:
            raise Problem(
                401,
                refused.title,
                refused.detail,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            ) from None

    def identify(self, token: str) -> Principal | None:
        """The caller from the copy alone, or None (unknown, expired or revoked); a 503
        problem while the copy loads."""
        try:
            return self._who(token, looked_up=True)
        except TokenRefused:
            return None


_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <token>`")


def require_roles(*roles: Role) -> Callable[..., Any]:
    """A FastAPI dependency: 401 without a valid token, 403 for another role."""

    async def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        authenticator: Authenticator = request.app.state.tokens
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise Problem(
                401,
                "Authentication required",
                "Send `Authorization: Bearer <token>`; ask programme staff for one.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        principal = await authenticator.authenticate(credentials.credentials)
        if principal.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise Problem(
                403,
                "Not allowed for this role",
                f"This action needs the role {allowed}; your token is {principal.role}.",
            )
        # The events this request stages record who caused them (the outbox reads it).
        CURRENT_ACTOR.set(principal.actor)
        return principal

    return dependency


async def caller_identity(request: Request) -> str | None:
    """Who sent the request (``Principal.caller``: a static token's SHA-256, or the person
    signed in) when its bearer token is valid; None otherwise. Two tokens of one role, label
    or school are two callers; a person's successive access tokens are one."""
    scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
    if scheme.lower() != "bearer" or not token:
        return None
    authenticator: Authenticator = request.app.state.tokens
    try:
        return (await authenticator.authenticate(token)).caller
    except Problem:
        return None


def ensure_school_access(principal: Principal, school_id: uuid.UUID) -> None:
    if not principal.may_act_for_school(school_id):
        raise problem_of(NotYourSchool(school_id))


def school_scope(principal: Principal, school_id: uuid.UUID | None) -> uuid.UUID | None:
    """The school a list is limited to: what was asked for, and for a coordinator always
    their own school (asking for another is a 403, not an empty list)."""
    if principal.role is not Role.coordinator:
        return school_id
    if school_id is not None:
        ensure_school_access(principal, school_id)
    return principal.school_id
