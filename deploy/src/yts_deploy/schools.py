"""Asking enrolment whether a school exists, before a coordinator's token or account is made
for it (``yts tokens create``, ``yts people add``)."""

from __future__ import annotations

import uuid

import httpx
import typer


def check_school_exists(enrolment_url: str, token: str, school: uuid.UUID) -> None:
    """Refuse (a BadParameter naming --school) unless enrolment answers that the school exists."""
    try:
        answer = httpx.get(
            f"{enrolment_url}/v1/schools/{school}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
    except httpx.HTTPError as exc:
        raise typer.BadParameter(
            f"cannot ask enrolment at {enrolment_url} whether the school exists ({exc!r}): "
            "start the system, give --enrolment-url, or --no-check-school",
            param_hint="--school",
        ) from exc
    if answer.status_code == 404:
        raise typer.BadParameter(f"enrolment has no school {school}", param_hint="--school")
    if answer.status_code != 200:
        raise typer.BadParameter(
            f"enrolment at {enrolment_url} answered {answer.status_code} for the school: "
            f"{answer.text[:200]}",
            param_hint="--school",
        )
