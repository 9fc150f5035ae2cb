"""The dead letters of a service over HTTP, for programme staff (admin only): every service
that consumes events has ``GET /v1/dead-letters`` and ``POST /v1/dead-letters/{seq}/redrive``
(``redrive.py`` does the work)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from yts_chassis.auth import Principal, Role, require_roles
from yts_chassis.errors import Problem
from yts_chassis.redrive import DeadLetter, DeadLetterShelf, NatsAway, Redriven

MAX_PAGE = 200
Staff = Annotated[Principal, Depends(require_roles(Role.admin))]


class DeadLetterView(BaseModel):
    seq: int = Field(description="the letter's sequence in YTS_DLQ: what a redrive names")
    consumer: str = Field(description="the durable consumer that dead-lettered it")
    subject: str = Field(description="the subject it was published on")
    event_type: str | None
    event_id: str | None
    reason: str
    dead_lettered_at: datetime | None
    deliveries: int | None = Field(description="deliveries before it was dead-lettered")

    @classmethod
    def of(cls, letter: DeadLetter) -> DeadLetterView:
        return cls(**letter.__dict__)


class DeadLetterPage(BaseModel):
    items: list[DeadLetterView]
    next_after: int | None = Field(
        description="pass as `after` for the next page; null when this is the last"
    )


class RedriveOutcome(BaseModel):
    letter: DeadLetterView
    outcome: str = Field(
        description="applied; duplicate (applied before: nothing changed); ignored (this "
        "consumer no longer handles its type). The letter is deleted in every case."
    )


def dead_letters_router(shelf: DeadLetterShelf) -> APIRouter:
    router = APIRouter(prefix="/v1/dead-letters", tags=["dead letters"])

    @router.get("", summary="This service's dead letters, oldest first, with their reasons")
    async def list_dead_letters(
        _staff: Staff,
        after: Annotated[int, Query(ge=0, le=2**63 - 2, description="stream sequence")] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="page size")] = 50,
    ) -> DeadLetterPage:
        try:
            letters, next_after = await shelf.page(after, limit)
        except NatsAway:
            raise Problem.unavailable() from None
        return DeadLetterPage(items=[DeadLetterView.of(x) for x in letters], next_after=next_after)

    @router.post(
        "/{seq}/redrive",
        summary="Apply a dead letter again (its fault fixed), then delete it; a letter that "
        "still fails stays (409 with the reason)",
    )
    async def redrive(
        _staff: Staff, seq: Annotated[int, Path(ge=1, le=2**63 - 1)]
    ) -> RedriveOutcome:
        try:
            done: Redriven = await shelf.redrive(seq)
        except NatsAway:
            raise Problem.unavailable() from None
        return RedriveOutcome(letter=DeadLetterView.of(done.letter), outcome=done.outcome)

    return router
