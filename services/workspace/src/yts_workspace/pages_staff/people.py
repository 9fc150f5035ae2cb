"""People's access: every account with its state (active or revoked, last sign-in), an
invitation (an account made and a sign-in link mailed in the person's language), revocation
at once everywhere. A school's page invites its coordinator through the same ``invitation``."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from yts_chassis.access import Role

from yts_workspace import accounts, i18n
from yts_workspace.people import EmailTaken, PersonNotKnown, normal_email, valid_email
from yts_workspace.problems import FieldMessage
from yts_workspace.web import Visit, render, visit_of

router = APIRouter(prefix="/staff")
Visitor = Annotated[Visit, Depends(visit_of)]


async def invitation(
    visit: Visit, form: dict[str, Any], school: uuid.UUID | None = None
) -> list[FieldMessage]:
    """An account made from an invitation form and its first sign-in link mailed; the form's
    errors instead when it is wrong (then nothing is made). A school's own page gives its
    ``school``: the person is that school's coordinator."""
    workspace = visit.request.app.state.workspace
    errors = []
    email = normal_email(str(form.get("email", "")))
    name = str(form.get("name", "")).strip()
    role = Role.coordinator if school or form.get("role") != "admin" else Role.admin
    if not valid_email(email):
        errors.append(FieldMessage("email", visit.words("sign_in.email_invalid")))
    if not name:
        errors.append(FieldMessage("name", visit.words("rule.missing")))
    if role is Role.coordinator and school is None:
        try:
            school = uuid.UUID(str(form.get("school_id", "")))
        except ValueError:
            errors.append(FieldMessage("school_id", visit.words("people.school_needed")))
    if errors:
        return errors
    try:
        await accounts.invite(
            workspace.settings,
            workspace.people,
            workspace.links,
            email=email,
            name=name,
            role=role,
            school_id=school,
            language=str(form.get("language") or "kk"),
        )
    except EmailTaken:
        return [FieldMessage("email", visit.words("people.email_taken"))]
    return []


async def _people_page(visit: Visit, status: int = 200, **context: Any) -> HTMLResponse:
    workspace = visit.request.app.state.workspace
    schools = await visit.api().every("enrolment", "/v1/schools")
    context.setdefault("values", {"role": "coordinator", "language": visit.words.lang})
    return render(
        visit,
        "staff_people.html",
        status=status,
        people=await workspace.people.all(),
        schools=sorted(schools, key=lambda s: s["name"]),
        school_names={s["id"]: s["name"] for s in schools},
        language_codes=i18n.LANGUAGES,
        **context,
    )


@router.get("/people")
async def people_page(visit: Visitor, revoked: bool = False, invited: bool = False) -> HTMLResponse:
    visit.staff()
    return await _people_page(visit, revoked=revoked, invited=invited)


@router.post("/people")
async def invite(visit: Visitor) -> Response:
    visit.staff()
    form = await visit.form()
    errors = await invitation(visit, form)
    if errors:
        return await _people_page(visit, 422, errors=errors, values=form)
    return RedirectResponse("/staff/people?invited=1", status_code=303)


@router.post("/people/{person_id}/revocation")
async def revoke(person_id: uuid.UUID, visit: Visitor) -> Response:
    """Access withdrawn at once, everywhere (``accounts.revoke_access``)."""
    visit.staff()
    await visit.form()
    workspace = visit.request.app.state.workspace
    try:
        await accounts.revoke_access(workspace.js, workspace.people, workspace.signins, person_id)
    except PersonNotKnown:
        return render(visit, "problem.html", status=404, problem=None)
    return RedirectResponse("/staff/people?revoked=1", status_code=303)
