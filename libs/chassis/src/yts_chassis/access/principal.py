"""Who is calling: a role, and for a coordinator the one school it acts for."""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    admin = "admin"  # programme staff
    coordinator = "coordinator"  # a school's deputy principal: that school only
    partner = "partner"  # partner organisations' scripts: reporting, read only


@dataclass(frozen=True)
class Principal:
    role: Role
    label: str
    school_id: uuid.UUID | None = None
    # One id per caller, the owner of its Idempotency-Keys: a static token's SHA-256, or
    # ``person:<id>`` for a signed-in person (whose short-lived tokens change every few minutes).
    caller: str = ""
    person_id: uuid.UUID | None = None
    session_id: str | None = None
    # Who did it, as the events a request causes record it (their CloudEvents ``actor``):
    # ``person:<id>``, ``token:<token id>`` or ``admin:bootstrap``; an id, never a name.
    actor: str | None = None

    def may_act_for_school(self, school_id: uuid.UUID) -> bool:
        return self.role is Role.admin or (
            self.role is Role.coordinator and self.school_id == school_id
        )


# The actor of the request being served, set by the chassis' authentication (``require_roles``)
# and written by the outbox into every event the request stages; unset in consumers and workers.
# Each request runs in a task of its own, so the value never outlives it.
CURRENT_ACTOR: ContextVar[str | None] = ContextVar("yts_current_actor", default=None)
