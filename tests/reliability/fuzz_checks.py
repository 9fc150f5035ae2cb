"""Schemathesis hooks for the HTTP fuzzing of tests/reliability/test_http_fuzz.py: loaded by the
``schemathesis`` CLI through SCHEMATHESIS_HOOKS."""

from __future__ import annotations

from typing import Any

import schemathesis


@schemathesis.check
def errors_are_problem_json(ctx: Any, response: schemathesis.Response, case: Any) -> bool | None:
    """Every 4xx and 5xx of the APIs is RFC 9457 problem+json naming what went wrong."""
    if response.status_code < 400:
        return None
    content_type = response.headers.get("content-type", [""])[0]
    if not content_type.startswith("application/problem+json"):
        raise AssertionError(
            f"{response.status_code} answered as {content_type!r}, not problem+json"
        )
    body = response.json()
    if (
        not isinstance(body, dict)
        or "title" not in body
        or body.get("status") != response.status_code
    ):
        raise AssertionError(f"a problem without the status: {body!r}")
    return None
