"""Programme staff's pages: people's access (invite by mail, revoke at once everywhere), the
schools with their coordinators' pages, cohorts, webhook subscriptions and the delivery log, and
links to the dashboard and exports."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from yts_chassis.access import Role

from yts_workspace import accounts, i18n
from yts_workspace.people import EmailTaken, PersonNotKnown, normal_email, valid_email
from yts_workspace.problems import FieldMessage
from yts_workspace.web import Visit, render, visit_of

router = APIRouter(prefix="/staff")
Visitor = Annotated[Visit, Depends(visit_of)]


async def _people_page(visit: Visit, status: int = 200, **context: Any) -> HTMLResponse:
    workspace = visit.request.app.state.workspace
    schools = await visit.api().every("enrolment", "/v1/schools")
    context.setdefault("values", {"role": "coordinator", "language": visit.words.lang})
    return render(
        visit,
        "staff_people.html",
        status=status,
        people=await workspace.people.all(),
        schools=schools,
        school_names={s["id"]: s["name"] for s in schools},
        language_codes=i18n.LANGUAGES,
        **context,
    )


@router.get("")
async def staff_home(visit: Visitor) -> HTMLResponse:
    visit.staff()
    api = visit.api()
    schools, cohorts = await asyncio.gather(
        api.every("enrolment", "/v1/schools"), api.get("enrolment", "/v1/cohorts")
    )
    settings = visit.request.app.state.workspace.settings
    return render(
        visit,
        "staff.html",
        schools=sorted(schools, key=lambda s: s["name"]),
        cohorts=cohorts,
        dashboard=(settings.dashboard_url or settings.reporting_url).rstrip("/"),
    )


@router.get("/people")
async def people_page(visit: Visitor, revoked: bool = False, invited: bool = False) -> HTMLResponse:
    visit.staff()
    return await _people_page(visit, revoked=revoked, invited=invited)


@router.post("/people")
async def invite(request: Request, visit: Visitor) -> Response:
    """An account made, and a sign-in link mailed to it."""
    visit.staff()
    form = await visit.form()
    workspace = request.app.state.workspace
    errors = []
    email = normal_email(str(form.get("email", "")))
    name = str(form.get("name", "")).strip()
    role = Role.admin if form.get("role") == "admin" else Role.coordinator
    school: uuid.UUID | None = None
    if not valid_email(email):
        errors.append(FieldMessage("email", visit.words("sign_in.email_invalid")))
    if not name:
        errors.append(FieldMessage("name", visit.words("rule.missing")))
    if role is Role.coordinator:
        try:
            school = uuid.UUID(str(form.get("school_id", "")))
        except ValueError:
            errors.append(FieldMessage("school_id", visit.words("people.school_needed")))
    language = str(form.get("language") or "kk")
    if not errors:
        try:
            await accounts.invite(
                workspace.settings,
                workspace.people,
                workspace.links,
                email=email,
                name=name,
                role=role,
                school_id=school,
                language=language,
            )
        except EmailTaken:
            errors.append(FieldMessage("email", visit.words("people.email_taken")))
    if errors:
        return await _people_page(visit, 422, errors=errors, values=form)
    return RedirectResponse("/staff/people?invited=1", status_code=303)


@router.post("/people/{person_id}/revocation")
async def revoke(person_id: uuid.UUID, request: Request, visit: Visitor) -> Response:
    """Access withdrawn at once, everywhere (``accounts.revoke_access``)."""
    visit.staff()
    await visit.form()
    workspace = request.app.state.workspace
    try:
        await accounts.revoke_access(workspace.js, workspace.people, workspace.signins, person_id)
    except PersonNotKnown:
        return render(visit, "problem.html", status=404, problem=None)
    return RedirectResponse("/staff/people?revoked=1", status_code=303)


@router.get("/deliveries")
async def deliveries_page(visit: Visitor, status: str = "") -> HTMLResponse:
    visit.staff()
    api = visit.api()
    deliveries, subscriptions = await asyncio.gather(
        api.get("notifications", "/v1/deliveries", status=status or None, limit=100),
        api.get("notifications", "/v1/webhook-subscriptions", limit=100),
    )
    return render(
        visit,
        "staff_deliveries.html",
        deliveries=deliveries,
        subscriptions=subscriptions,
        shown=status,
    )
