"""The revocation bitstring of the W3C Bitstring Status List: bit ``i`` (counted from the
first byte's most significant bit) is 1 when the credential at index ``i`` is revoked; the
list travels GZIP-compressed, base64url-encoded without padding, with the multibase prefix
``u``."""

from __future__ import annotations

import base64
import gzip
from collections.abc import Iterable

MULTIBASE_BASE64URL = "u"


def encode(revoked: Iterable[int], length: int) -> str:
    bits = bytearray(length // 8)
    for index in revoked:
        bits[index // 8] |= 0x80 >> (index % 8)
    # mtime=0: the same revocations always give the same list.
    packed = gzip.compress(bytes(bits), mtime=0)
    return MULTIBASE_BASE64URL + base64.urlsafe_b64encode(packed).decode().rstrip("=")


def decode(encoded: str) -> bytes:
    """The bitstring; ValueError when it is not a multibase base64url GZIP stream."""
    if not encoded.startswith(MULTIBASE_BASE64URL):
        raise ValueError("encodedList must start with the multibase prefix u (base64url)")
    text = encoded[1:]
    try:
        return gzip.decompress(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (OSError, ValueError, EOFError) as exc:
        raise ValueError(f"encodedList is not base64url GZIP: {exc}") from exc


def is_set(bits: bytes, index: int) -> bool:
    if not 0 <= index < len(bits) * 8:
        raise ValueError(f"index {index} is outside the list of {len(bits) * 8} entries")
    return bool(bits[index // 8] & (0x80 >> (index % 8)))
