"""Who may call the services, kept where every machine sees it: the NATS JetStream key-value
bucket ``yts-access`` (``buckets``), followed by each service into memory (``view``).

- Static tokens (partners' integrations, scripts): ``StaticTokens`` (``yts tokens``) keeps
  the SHA-256 of each with its role, school, expiry and revocation.
- People (the workspace): short-lived Ed25519-signed tokens (``SigningKey.mint``), verified
  with the public keys in the bucket; ``revoke_session`` (sign-out) and
  ``revoke_person`` refuse their tokens on every service at once.

The issuer's side, in short::

    key = SigningKey.from_jwk(settings.signing_key)          # kept by the issuer only
    await publish_signing_key(js, key)                        # at start
    token = key.mint(person_id=..., role=Role.coordinator, school_id=..., session_id=...)
    await revoke_session(js, session_id)                      # sign-out
    await revoke_person(js, person_id)                        # access withdrawn
"""

from yts_chassis.access.buckets import (
    ACCESS_BUCKET,
    MAX_PERSON_TOKEN_SECONDS,
    bucket_config,
)
from yts_chassis.access.people import DEFAULT_LIFETIME, SigningKey
from yts_chassis.access.principal import Principal, Role
from yts_chassis.access.records import TokenRecord, generate_token, hash_token
from yts_chassis.access.store import (
    DEFAULT_TOKEN_LIFETIME,
    MAX_TOKEN_LIFETIME,
    IssuedToken,
    StaticTokens,
    TokenAmbiguous,
    TokenNotFound,
    publish_signing_key,
    revoke_person,
    revoke_session,
    withdraw_signing_key,
)
from yts_chassis.access.view import AccessView

__all__ = [
    "ACCESS_BUCKET",
    "DEFAULT_LIFETIME",
    "DEFAULT_TOKEN_LIFETIME",
    "MAX_PERSON_TOKEN_SECONDS",
    "MAX_TOKEN_LIFETIME",
    "AccessView",
    "IssuedToken",
    "Principal",
    "Role",
    "SigningKey",
    "StaticTokens",
    "TokenAmbiguous",
    "TokenNotFound",
    "TokenRecord",
    "bucket_config",
    "generate_token",
    "hash_token",
    "publish_signing_key",
    "revoke_person",
    "revoke_session",
    "withdraw_signing_key",
]
