"""Who is calling: a role, and for a coordinator the one school it acts for."""

from __future__ import annotations

import uuid
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

    def may_act_for_school(self, school_id: uuid.UUID) -> bool:
        return self.role is Role.admin or (
            self.role is Role.coordinator and self.school_id == school_id
        )
