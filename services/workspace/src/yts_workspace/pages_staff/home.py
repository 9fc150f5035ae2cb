"""The staff's start page: the reporting dashboard and its exports in the page's language, and
the staff's other pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from yts_workspace.web import Visit, render, visit_of

router = APIRouter(prefix="/staff")
Visitor = Annotated[Visit, Depends(visit_of)]


@router.get("")
async def staff_home(visit: Visitor) -> HTMLResponse:
    visit.staff()
    settings = visit.request.app.state.workspace.settings
    return render(
        visit,
        "staff.html",
        dashboard=(settings.dashboard_url or settings.reporting_url).rstrip("/"),
    )
