"""Signing in by a one-time link mailed to the person, and signing out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from yts_chassis.access import Role, revoke_session
from yts_chassis.logs import get_logger

from yts_workspace import accounts
from yts_workspace.buckets import digest
from yts_workspace.people import normal_email, valid_email
from yts_workspace.problems import FieldMessage
from yts_workspace.web import SESSION_COOKIE, Visit, remember, render, visit_of

router = APIRouter()
log = get_logger(__name__)
Visitor = Annotated[Visit, Depends(visit_of)]


@router.get("/")
async def home(visit: Visitor) -> Response:
    person, _ = visit.signed_in()
    if person.role is Role.coordinator:
        return RedirectResponse(f"/schools/{person.school_id}", status_code=303)
    return RedirectResponse("/staff", status_code=303)


@router.get("/sign-in")
async def sign_in_page(
    visit: Visitor, ended: bool = False, signed_out: bool = False
) -> HTMLResponse:
    return render(visit, "sign_in.html", ended=ended, signed_out=signed_out, email="")


@router.post("/sign-in")
async def ask_for_link(request: Request, visit: Visitor) -> HTMLResponse:
    form = await visit.form()
    email = normal_email(str(form.get("email", "")))
    if not valid_email(email):
        error = FieldMessage("email", visit.words("sign_in.email_invalid"))
        return render(visit, "sign_in.html", status=422, errors=[error], email=email, ended=False)
    workspace = request.app.state.workspace
    client = request.client.host if request.client else "unknown"
    if not workspace.link_requests.allow(f"email:{digest(email)}", f"client:{client}"):
        return render(visit, "sign_in.html", status=429, too_many=True, email=email, ended=False)
    person = await workspace.people.by_email(email)
    if person is not None and person.active:
        try:
            await accounts.send_link(workspace.settings, workspace.links, person)
        except Exception as error:  # said in the log; the page says the same to everyone
            log.warning("sign-in mail not sent", error=repr(error))
    # The same page whether the address has an account or not: no one learns who has one.
    return render(visit, "check_mail.html", email=email)


@router.get("/sign-in/link")
async def link_page(visit: Visitor, token: str = "") -> HTMLResponse:
    # A button to press: mail scanners that open links must not use the one-time token up.
    return render(visit, "sign_in_link.html", token=token)


@router.post("/sign-in/link")
async def use_link(request: Request, visit: Visitor) -> Response:
    form = await visit.form()
    workspace = request.app.state.workspace
    person_id = await workspace.links.take(str(form.get("token", "")))
    person = await workspace.people.get(person_id) if person_id else None
    if person is None or not person.active:
        return render(visit, "link_refused.html", status=400)
    cookie, _ = await workspace.signins.start(person.id)
    await workspace.people.note_sign_in(person.id)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        httponly=True,
        secure=workspace.settings.secure_cookies,
        samesite="lax",
        max_age=workspace.settings.absolute_hours * 3600,
    )
    remember(visit, response)
    return response


@router.post("/sign-out")
async def sign_out(request: Request, visit: Visitor) -> Response:
    await visit.form()
    workspace = request.app.state.workspace
    cookie = request.cookies.get(SESSION_COOKIE)
    ended = await workspace.signins.end(cookie) if cookie else None
    if ended is not None:
        await revoke_session(workspace.js, ended.sid)
    response = RedirectResponse("/sign-in?signed_out=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
