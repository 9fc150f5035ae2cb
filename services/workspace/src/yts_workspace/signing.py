"""The workspace's signing key (people's access tokens): given by the setting, else kept in a
key file (made once, mode 0600), so that a restart signs with the same key and keys do not pile
up in the access bucket. A key rotated out (the setting or the file changed) is withdrawn from
the access bucket once the longest token it can have signed has expired: the bucket's
``yts-workspace-people`` keeps ``issuer.current`` (the key in use) and ``issuer.retired.<kid>``
(when each older key was replaced)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from nats.js.client import JetStreamContext
from nats.js.errors import KeyNotFoundError, NoKeysError
from nats.js.kv import KeyValue
from yts_chassis.access import MAX_PERSON_TOKEN_SECONDS, SigningKey, withdraw_signing_key

CURRENT = "issuer.current"
RETIRED = "issuer.retired."
# A retired key is withdrawn once no token it signed can still be alive.
RETIRED_KEY_LIFE = timedelta(seconds=MAX_PERSON_TOKEN_SECONDS)


def load_or_create(given: str | None, file: Path | None) -> SigningKey:
    """The key given (a private JWK), else the one in ``file``, else a new one written there
    (created 0600 whole, then linked into place: of two instances starting together, the
    second keeps the first's key); with neither, a key for this process alone."""
    if given:
        return SigningKey.from_jwk(given)
    if file is None:
        return SigningKey.generate()
    if file.exists():
        return SigningKey.from_jwk(file.read_text(encoding="utf-8"))
    key = SigningKey.generate()
    file.parent.mkdir(parents=True, exist_ok=True)
    draft = file.with_name(f".{file.name}.{os.getpid()}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        json.dump(key.private_jwk(), out)
    try:
        os.link(draft, file)
    except FileExistsError:
        return SigningKey.from_jwk(file.read_text(encoding="utf-8"))
    finally:
        draft.unlink()
    return key


async def note_in_use(kv: KeyValue, kid: str, now: datetime | None = None) -> None:
    """Record ``kid`` as the key in use; the one it replaces is retired from now."""
    now = now or datetime.now(UTC)
    try:
        previous = (await kv.get(CURRENT)).value
    except KeyNotFoundError:
        previous = None
    if previous and previous.decode() != kid:
        await kv.put(RETIRED + previous.decode(), now.isoformat().encode())
    if previous is None or previous.decode() != kid:
        await kv.put(CURRENT, kid.encode())


async def withdraw_expired(
    kv: KeyValue, js: JetStreamContext, now: datetime | None = None
) -> list[str]:
    """Withdraw from the access bucket every retired key whose tokens have all expired; the
    ids withdrawn."""
    now = now or datetime.now(UTC)
    try:
        keys = await kv.keys()
    except NoKeysError:
        return []
    withdrawn = []
    for key in keys:
        if not key.startswith(RETIRED):
            continue
        try:
            retired_at = datetime.fromisoformat((await kv.get(key)).value.decode())  # type: ignore[union-attr]
        except (KeyNotFoundError, AttributeError, ValueError):
            continue
        if now - retired_at < RETIRED_KEY_LIFE:
            continue
        kid = key.removeprefix(RETIRED)
        await withdraw_signing_key(js, kid)
        await kv.delete(key)
        withdrawn.append(kid)
    return withdrawn
