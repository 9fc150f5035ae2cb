"""Signing as VC-JWT (OB 3.0 §8.2): a compact JWS over the credential, EdDSA with the
issuer's Ed25519 key, ``kid`` the key's address in the published JWKS."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from yts_credentials.keys import ALGORITHM, ALGORITHMS, IssuerKey

HEADER_TYPE = "JWT"  # OB 3.0: "typ", if present, MUST be "JWT"


class NotSigned(ValueError):
    """The text is not a compact JWS that can be read at all."""


class Signer:
    """Signs with the issuer's key, loaded (or made, the first time) when first needed, not
    when the app is built."""

    def __init__(self, load_key: Callable[[], IssuerKey]) -> None:
        self._load_key = load_key

    @cached_property
    def key(self) -> IssuerKey:
        return self._load_key()

    @cached_property
    def _public(self) -> KeySet:
        return self.key.public_keys()

    def sign(self, claims: dict[str, Any]) -> str:
        header = {"alg": ALGORITHM, "kid": self.key.kid, "typ": HEADER_TYPE}
        with _eddsa_by_its_common_name():
            return jwt.encode(header, claims, self.key.private, algorithms=[ALGORITHM])

    def signed_by_us(self, token: str) -> bool:
        """Whether the token's signature verifies with this issuer's published key."""
        try:
            with _eddsa_by_its_common_name():
                jws.deserialize_compact(token, self._public, algorithms=list(ALGORITHMS))
        except (JoseError, ValueError):
            return False
        return True


def read_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and payload of a compact JWS, before any check (to route it)."""
    try:
        compact = jws.extract_compact(token.strip().encode())
        payload = json.loads(compact.payload)
    except (JoseError, ValueError, UnicodeDecodeError) as exc:
        raise NotSigned(f"not a compact JWS: {exc}") from exc
    if not isinstance(payload, dict):
        raise NotSigned("the JWS payload is not a JSON object")
    return dict(compact.headers()), payload


@contextmanager
def _eddsa_by_its_common_name() -> Iterator[None]:
    # joserfc warns that RFC 9864 deprecates the name "EdDSA" in favour of "Ed25519"; the
    # signature is the same, and OB 3.0 verifiers know the older name, so it is kept.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="EdDSA is deprecated")
        yield
