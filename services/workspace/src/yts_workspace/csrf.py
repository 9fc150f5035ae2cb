"""Cross-site request forgery: every form carries a token that a forged post cannot know. A
signed-in person's is their session's (``SignIn.csrf``); before sign-in, a random value in a
cookie of its own that the form repeats (double submit)."""

from __future__ import annotations

import hmac
import secrets

FIELD = "csrf_token"
COOKIE = "yts_ws_csrf"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def matches(expected: str | None, given: str | None) -> bool:
    """True only for a present, equal token (compared in constant time)."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())
