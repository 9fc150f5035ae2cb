"""Schools: the list, registering one (enrolment's POST /v1/schools, with the coordinator whom
the programme's mail goes to), a school's page with that contact, its coordinators in the
workspace and an invitation for one more, and changing the contact (enrolment's
PUT /v1/schools/{id}/coordinator)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from yts_contracts.vocabulary import District

from yts_workspace import i18n
from yts_workspace.backends import ApiProblem, new_idempotency_key
from yts_workspace.forms import answered, as_list
from yts_workspace.pages_staff.people import invitation
from yts_workspace.problems import field_messages
from yts_workspace.web import Visit, render, visit_of

router = APIRouter(prefix="/staff")
Visitor = Annotated[Visit, Depends(visit_of)]

SCHOOL_FIELDS = frozenset(
    {
        "name",
        "district",
        "languages",
        "coordinator.name",
        "coordinator.email",
        "coordinator.locale",
    }
)
CONTACT_FIELDS = frozenset({"name", "email", "locale"})
DISTRICTS = tuple(district.value for district in District)


@router.get("/schools")
async def schools_page(visit: Visitor) -> HTMLResponse:
    visit.staff()
    schools = await visit.api().every("enrolment", "/v1/schools")
    people = await visit.request.app.state.workspace.people.all()
    coordinators: dict[str, int] = {}
    for person in people:
        if person.school_id is not None and person.active:
            key = str(person.school_id)
            coordinators[key] = coordinators.get(key, 0) + 1
    return render(
        visit,
        "staff_schools.html",
        schools=sorted(schools, key=lambda s: s["name"]),
        coordinators=coordinators,
    )


def _school_form(visit: Visit, status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault(
        "values",
        {"languages": [], "coordinator.locale": visit.words.lang, "key": new_idempotency_key()},
    )
    return render(
        visit,
        "staff_school_new.html",
        status=status,
        districts=DISTRICTS,
        language_codes=i18n.LANGUAGES,
        **context,
    )


@router.get("/schools/new")
async def register_page(visit: Visitor) -> HTMLResponse:
    visit.staff()
    return _school_form(visit)


@router.post("/schools/new")
async def register(visit: Visitor) -> Response:
    visit.staff()
    form = await visit.form()
    body = answered(
        {
            "name": form.get("name"),
            "district": form.get("district"),
            "coordinator": {
                "name": form.get("coordinator.name"),
                "email": form.get("coordinator.email"),
                "locale": form.get("coordinator.locale"),
            },
        }
    )
    # Sent even when empty, so that the service says "choose at least one" and names each of
    # the coordinator's fields missing.
    body["languages"] = as_list(form.get("languages"))
    body.setdefault("coordinator", {})
    school, problem = await visit.api().create(
        "enrolment", "/v1/schools", body, str(form.get("key") or "")
    )
    if problem is not None:
        values = {**form, "languages": as_list(form.get("languages"))}
        values["key"] = new_idempotency_key()  # what is corrected is a new request
        errors = field_messages(problem, visit.words, SCHOOL_FIELDS)
        return _school_form(visit, 422, errors=errors, values=values)
    return RedirectResponse(f"/staff/schools/{school['id']}?registered=1", status_code=303)


async def _school_and_contact(visit: Visit, school_id: uuid.UUID) -> tuple[Any, Any]:
    """The school's record and the coordinator its mail goes to (enrolment keeps both)."""
    api = visit.api()
    school, contact = await asyncio.gather(
        api.get("enrolment", f"/v1/schools/{school_id}"),
        api.get("enrolment", f"/v1/schools/{school_id}/coordinator"),
    )
    return school, contact


async def _school_page(
    visit: Visit, school_id: uuid.UUID, status: int = 200, **context: Any
) -> HTMLResponse:
    school, contact = await _school_and_contact(visit, school_id)
    people = await visit.request.app.state.workspace.people.all()
    context.setdefault("values", {"language": visit.words.lang})
    return render(
        visit,
        "staff_school.html",
        status=status,
        school=school,
        contact=contact,
        coordinators=[p for p in people if p.school_id == school_id],
        language_codes=i18n.LANGUAGES,
        **context,
    )


@router.get("/schools/{school_id}")
async def school_page(
    school_id: uuid.UUID,
    visit: Visitor,
    registered: bool = False,
    invited: bool = False,
    contact_changed: bool = False,
) -> HTMLResponse:
    visit.staff()
    return await _school_page(
        visit, school_id, registered=registered, invited=invited, contact_changed=contact_changed
    )


@router.post("/schools/{school_id}/coordinators")
async def invite_coordinator(school_id: uuid.UUID, visit: Visitor) -> Response:
    """The school's coordinator gets an account and a sign-in link in their language."""
    visit.staff()
    form = await visit.form()
    await visit.api().get("enrolment", f"/v1/schools/{school_id}")  # a school that exists
    errors = await invitation(visit, form, school=school_id)
    if errors:
        return await _school_page(visit, school_id, 422, errors=errors, values=form)
    return RedirectResponse(f"/staff/schools/{school_id}?invited=1", status_code=303)


async def _contact_form(
    visit: Visit, school_id: uuid.UUID, status: int = 200, **context: Any
) -> HTMLResponse:
    school, contact = await _school_and_contact(visit, school_id)
    context.setdefault("values", {**contact, "key": new_idempotency_key()})
    return render(
        visit,
        "staff_school_contact.html",
        status=status,
        school=school,
        language_codes=i18n.LANGUAGES,
        **context,
    )


@router.get("/schools/{school_id}/contact")
async def contact_page(school_id: uuid.UUID, visit: Visitor) -> HTMLResponse:
    visit.staff()
    return await _contact_form(visit, school_id)


@router.post("/schools/{school_id}/contact")
async def change_contact(school_id: uuid.UUID, visit: Visitor) -> Response:
    """The contact enrolment keeps for the school's mail, replaced as a whole."""
    visit.staff()
    form = await visit.form()
    body = answered({field: form.get(field) for field in CONTACT_FIELDS})
    try:
        await visit.api().call(
            "PUT",
            "enrolment",
            f"/v1/schools/{school_id}/coordinator",
            body=body,
            idempotency_key=str(form.get("key") or "") or None,
        )
    except ApiProblem as problem:
        if problem.status not in (409, 422):
            raise
        values = {**form, "key": new_idempotency_key()}  # what is corrected is a new request
        errors = field_messages(problem, visit.words, CONTACT_FIELDS)
        return await _contact_form(visit, school_id, 422, errors=errors, values=values)
    return RedirectResponse(f"/staff/schools/{school_id}?contact_changed=1", status_code=303)
