"""Dead letters (every service's ``/v1/dead-letters``): each service's letters with their
reasons, and a letter applied again once its fault is fixed, the outcome said on the page; a
letter that still fails stays, with the service's reason."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yts_workspace.backends import SERVICES, ApiProblem
from yts_workspace.web import NotYours, Visit, render, visit_of

router = APIRouter(prefix="/staff")
Visitor = Annotated[Visit, Depends(visit_of)]
OUTCOMES = ("applied", "duplicate", "ignored")


async def _letters_of(visit: Visit, service: str) -> list[Any] | ApiProblem:
    try:
        page = await visit.api().get(service, "/v1/dead-letters", limit=200)
    except ApiProblem as problem:  # one service away: the others' letters still show
        return problem
    return list(page["items"])


async def _page(visit: Visit, status: int = 200, **context: Any) -> HTMLResponse:
    found = await asyncio.gather(*(_letters_of(visit, service) for service in SERVICES))
    letters = {s: f for s, f in zip(SERVICES, found, strict=True) if isinstance(f, list)}
    away = [s for s, f in zip(SERVICES, found, strict=True) if isinstance(f, ApiProblem)]
    return render(
        visit,
        "staff_dead_letters.html",
        status=status,
        letters=letters,
        away=away,
        total=sum(len(x) for x in letters.values()),
        **context,
    )


@router.get("/dead-letters")
async def dead_letters_page(visit: Visitor, outcome: str = "", gone: bool = False) -> HTMLResponse:
    visit.staff()
    return await _page(visit, outcome=outcome if outcome in OUTCOMES else "", gone=gone)


@router.post("/dead-letters/{service}/{seq}/redrive")
async def redrive(service: str, seq: int, visit: Visitor) -> Response:
    visit.staff()
    await visit.form()
    if service not in SERVICES or seq < 1:
        raise NotYours()
    try:
        done = await visit.api().post(service, f"/v1/dead-letters/{seq}/redrive", None)
    except ApiProblem as problem:
        if problem.status == 404:  # applied by someone else meanwhile, or never there
            return RedirectResponse("/staff/dead-letters?gone=1", status_code=303)
        if problem.status != 409:
            raise
        reason = problem.errors[0]["message"] if problem.errors else problem.detail
        return await _page(
            visit, 409, not_applied={"service": service, "seq": seq, "reason": reason}
        )
    return RedirectResponse(f"/staff/dead-letters?outcome={done['outcome']}", status_code=303)
