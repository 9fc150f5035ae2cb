"""People's short-lived access tokens: JWTs signed with Ed25519 by the issuer of sign-ins
(the workspace), verified by every service with the issuer's public key.

``alg`` is ``Ed25519`` (RFC 9864's name for EdDSA over Ed25519; joserfc warns on the older,
polymorphic ``EdDSA``). Claims: ``sub`` the person's id, ``role`` (admin for programme staff,
or coordinator), ``school_id`` (coordinators only), ``sid`` the sign-in session, ``iat``,
``exp`` (at most ``MAX_PERSON_TOKEN_SECONDS`` after ``iat``), ``iss`` and ``aud`` ``yts``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import OKPKey

from yts_chassis.access.buckets import MAX_PERSON_TOKEN_SECONDS
from yts_chassis.access.principal import Role

ALGORITHM = "Ed25519"
ISSUER = AUDIENCE = "yts"
DEFAULT_LIFETIME = timedelta(minutes=5)
PERSON_ROLES = (Role.admin, Role.coordinator)
_LEEWAY_SECONDS = 5  # clocks of the issuer's and a service's machines differ a little


class SigningKey:
    """The issuer's private key (kept by the issuer only); its public half goes to the keys
    bucket under its id (the key's RFC 7638 thumbprint)."""

    def __init__(self, key: OKPKey) -> None:
        if not key.is_private:
            raise ValueError("a signing key needs its private half")
        self._key = key

    @classmethod
    def generate(cls) -> SigningKey:
        key = OKPKey.generate_key("Ed25519", auto_kid=True)
        return cls(key)

    @classmethod
    def from_jwk(cls, raw: str | dict[str, Any]) -> SigningKey:
        return cls(OKPKey.import_key(json.loads(raw) if isinstance(raw, str) else raw))

    @property
    def kid(self) -> str:
        return str(self._key.kid)

    def private_jwk(self) -> dict[str, Any]:
        return dict(self._key.as_dict(private=True))

    def public_jwk(self) -> dict[str, Any]:
        return dict(self._key.as_dict(private=False))

    def mint(
        self,
        *,
        person_id: uuid.UUID,
        role: Role,
        session_id: str,
        school_id: uuid.UUID | None = None,
        lifetime: timedelta = DEFAULT_LIFETIME,
        now: datetime | None = None,
    ) -> str:
        """A signed access token for a signed-in person."""
        if role not in PERSON_ROLES:
            raise ValueError(f"a person signs in as {' or '.join(PERSON_ROLES)}, not {role}")
        if (role is Role.coordinator) != (school_id is not None):
            raise ValueError("a coordinator, and only a coordinator, is bound to a school")
        if not timedelta(0) < lifetime <= timedelta(seconds=MAX_PERSON_TOKEN_SECONDS):
            raise ValueError(f"a lifetime up to {MAX_PERSON_TOKEN_SECONDS} seconds")
        issued = int((now or datetime.now(UTC)).timestamp())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": str(person_id),
            "role": role.value,
            "sid": session_id,
            "iat": issued,
            "exp": issued + int(lifetime.total_seconds()),
        }
        if school_id is not None:
            claims["school_id"] = str(school_id)
        header = {"alg": ALGORITHM, "kid": self.kid, "typ": "JWT"}
        return jwt.encode(header, claims, self._key, algorithms=[ALGORITHM])


def public_key(raw: bytes | str) -> OKPKey:
    """A public key as stored in the keys bucket (a JWK); a private half is refused."""
    key = OKPKey.import_key(json.loads(raw))
    if key.is_private:
        raise ValueError("the keys bucket holds public keys only")
    return key


@dataclass(frozen=True)
class PersonClaims:
    person_id: uuid.UUID
    role: Role
    school_id: uuid.UUID | None
    session_id: str
    issued_at: datetime


class TokenRefused(Exception):
    """Why a person's access token is not accepted (said to the caller as a 401)."""

    def __init__(self, title: str, detail: str) -> None:
        super().__init__(detail)
        self.title = title
        self.detail = detail


class KeyUnknown(Exception):
    """Signed with a key id this service has not seen (yet)."""

    def __init__(self, kid: str) -> None:
        super().__init__(kid)
        self.kid = kid


def looks_like_person_token(token: str) -> bool:
    return token.count(".") == 2


def key_id(token: str) -> str:
    """The ``kid`` of a token's header, unverified (to choose the key it is checked with)."""
    try:
        return str(jws.extract_compact(token.encode()).protected.get("kid") or "")
    except (JoseError, ValueError, TypeError):
        return ""


_INVALID = TokenRefused(
    "Invalid access token", "The access token is not one the platform signed; sign in again."
)


def read_person_token(
    token: str, key_for: Callable[[str], OKPKey | None], now: datetime
) -> PersonClaims:
    """The claims of a valid token; ``TokenRefused`` for any fault, ``KeyUnknown`` when its key
    id is not known."""
    kid = key_id(token)
    if not kid:
        raise _INVALID
    key = key_for(kid)
    if key is None:
        raise KeyUnknown(kid)
    try:
        decoded = jwt.decode(token, key, algorithms=[ALGORITHM])
        jwt.JWTClaimsRegistry(
            now=int(now.timestamp()),
            leeway=_LEEWAY_SECONDS,
            iss={"essential": True, "value": ISSUER},
            aud={"essential": True, "value": AUDIENCE},
            sub={"essential": True},
            sid={"essential": True},
            role={"essential": True, "values": [r.value for r in PERSON_ROLES]},
            iat={"essential": True},
            exp={"essential": True},
        ).validate(decoded.claims)
    except ExpiredTokenError:
        raise TokenRefused(
            "Sign-in expired", "The access token has expired; sign in again."
        ) from None
    except (JoseError, ValueError, TypeError):
        raise _INVALID from None
    claims = decoded.claims
    try:
        if int(claims["exp"]) - int(claims["iat"]) > MAX_PERSON_TOKEN_SECONDS:
            raise ValueError("lives too long")
        role = Role(claims["role"])
        school = claims.get("school_id")
        school_id = uuid.UUID(school) if school else None
        if (role is Role.coordinator) != (school_id is not None):
            raise ValueError("a coordinator, and only a coordinator, has a school")
        return PersonClaims(
            person_id=uuid.UUID(claims["sub"]),
            role=role,
            school_id=school_id,
            session_id=str(claims["sid"]),
            issued_at=datetime.fromtimestamp(int(claims["iat"]), UTC),
        )
    except (KeyError, ValueError, TypeError):
        raise _INVALID from None
