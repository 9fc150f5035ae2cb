"""The issuer's signing key: an Ed25519 key pair, kept as a private JWK in a file of the state
folder (created once, mode 0600) or given by a setting, and published as a JWKS."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc.jwk import KeySet, OKPKey

ALGORITHM = "EdDSA"
# RFC 9864's fully specified name for the same signature; accepted when verifying.
ALGORITHMS = ("EdDSA", "Ed25519")


@dataclass(frozen=True)
class IssuerKey:
    """The private key and where its public half is published (``kid``, a dereferenceable
    URL: the JWKS with the key's RFC 7638 thumbprint as fragment)."""

    private: OKPKey
    kid: str

    @classmethod
    def of(cls, private: OKPKey, jwks_url: str) -> IssuerKey:
        return cls(private, f"{jwks_url}#{private.thumbprint()}")

    def public_jwk(self) -> dict[str, Any]:
        jwk = dict(self.private.as_dict(private=False))
        jwk.update(kid=self.kid, use="sig", alg=ALGORITHM)
        return jwk

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk()]}

    def public_keys(self) -> KeySet:
        return KeySet.import_key_set(self.jwks())  # type: ignore[arg-type]


def load_or_create(file: Path, given: str | None) -> OKPKey:
    """The key given (JWK text), else the one in ``file``, else a new one written there."""
    if given:
        return _private(json.loads(given), "the signing_key setting")
    if file.exists():
        return _private(json.loads(file.read_text(encoding="utf-8")), str(file))
    key = OKPKey.generate_key("Ed25519")
    file.parent.mkdir(parents=True, exist_ok=True)
    # Written whole under another name, then linked into place: the key file is 0600 from
    # the start, and a replica starting at the same moment keeps the key that won.
    draft = file.with_name(f".{file.name}.{os.getpid()}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        json.dump(key.as_dict(private=True), out)
    try:
        os.link(draft, file)
    except FileExistsError:
        return _private(json.loads(file.read_text(encoding="utf-8")), str(file))
    finally:
        draft.unlink()
    return key


def _private(jwk: dict[str, Any], where: str) -> OKPKey:
    key = OKPKey.import_key(jwk)
    if key.as_dict().get("crv") != "Ed25519" or not key.is_private:
        raise ValueError(f"{where} is not an Ed25519 private key (a JWK with crv Ed25519 and d)")
    return key
