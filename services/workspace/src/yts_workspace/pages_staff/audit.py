"""Who changed what: the recent events of enrolment, sessions and credentials, each with its
time, what happened in words, the school, and who did it (a person's name and role, a static
token's label), filtered by school and by person (``yts_workspace.audit``)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from yts_workspace import audit
from yts_workspace.web import Visit, render, visit_of

router = APIRouter(prefix="/staff")
Visitor = Annotated[Visit, Depends(visit_of)]
SHOWN = 100  # rows on the page, newest first


@router.get("/audit")
async def audit_page(visit: Visitor, school_id: str = "", actor: str = "") -> HTMLResponse:
    """``school_id`` and ``actor`` come from the filter form: empty means every one."""
    visit.staff()
    try:
        school = uuid.UUID(school_id) if school_id else None
    except ValueError:
        school = None
    workspace = visit.request.app.state.workspace
    changes, schools = await asyncio.gather(
        audit.recent_changes(workspace.js),
        visit.api().every("enrolment", "/v1/schools"),
    )
    actors = await audit.actors_named(
        (c.actor for c in changes), workspace.people, workspace.access
    )
    shown = [
        c
        for c in changes
        if (school is None or c.school_id == school) and (not actor or c.actor == actor)
    ]
    return render(
        visit,
        "staff_audit.html",
        changes=shown[:SHOWN],
        more=len(shown) > SHOWN,
        actors=actors,
        choosable=sorted(actors.values(), key=lambda a: (a.kind, (a.name or a.key).casefold())),
        schools={s["id"]: s for s in schools},
        school_id=str(school) if school else "",
        actor=actor,
        per_stream=audit.READ_PER_STREAM,
    )
