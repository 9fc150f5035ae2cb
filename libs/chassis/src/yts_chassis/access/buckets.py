"""The NATS JetStream key-value bucket that holds who may call the services.

One bucket, ``yts-access``, its keys named by kind, so that NATS permissions can be given per
kind (a KV write is a publish to ``$KV.yts-access.<key>``) and one watch sees every change in
order:

- ``token.<sha256 of the token>``: a static token's record (role, school, expiry, revocation);
- ``key.<key id>``: a public key (JWK) that signs people's access tokens;
- ``session.<session id>``: a sign-in session ended (signed out, or ended by staff);
- ``person.<person id>``: a person's access revoked (tokens issued until then are refused).

Every service reads it (a watch keeps an in-memory copy, ``view.AccessView``); only the
operator's user (``yts tokens``, provisioning) writes tokens, and only it and the issuer of
people's sign-ins (the workspace) write keys and revocations (deploy/nats/service-users.conf).
"""

from __future__ import annotations

from nats.js.api import KeyValueConfig, StorageType

ACCESS_BUCKET = "yts-access"
ACCESS_STREAM = f"KV_{ACCESS_BUCKET}"
ACCESS_DESCRIPTION = (
    "who may call the services: static tokens by hash, people's signing keys, ended sessions "
    "and revoked people"
)

MAX_PERSON_TOKEN_SECONDS = 15 * 60
"""The longest a person's signed access token may live; the services refuse longer ones."""

REVOCATION_SECONDS = 60 * 60
"""How long a session's end or a person's revocation is kept (a per-entry TTL): longer than
any token it can refuse lives, so none outlives it."""

TOKEN_PREFIX = "token."
SIGNING_KEY_PREFIX = "key."
SESSION_PREFIX = "session."
PERSON_PREFIX = "person."


def bucket_config(replicas: int = 1) -> KeyValueConfig:
    return KeyValueConfig(
        bucket=ACCESS_BUCKET,
        description=ACCESS_DESCRIPTION,
        history=1,
        storage=StorageType.FILE,
        replicas=replicas,
        direct=True,
        max_value_size=16 * 1024,
        # Revocations expire (per entry) leaving a marker, so every watcher drops them too.
        limit_marker_ttl=60.0,
    )
