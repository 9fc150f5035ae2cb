"""What every page needs: who is visiting (their sign-in session and account), in which
language, the CSRF check of a form, and rendering a template with all of it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from yts_chassis.access import Role

from yts_workspace import csrf, i18n
from yts_workspace.backends import Api
from yts_workspace.people import Person
from yts_workspace.problems import FieldMessage
from yts_workspace.signins import SignIn

SESSION_COOKIE = "yts_ws_session"
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


class SignInNeeded(Exception):
    """No live sign-in: the person goes to the sign-in page (told why when it ended)."""

    def __init__(self, ended: bool) -> None:
        self.ended = ended


class NotYours(Exception):
    """A page of another school (or staff's pages for a coordinator): the 403 page."""


class FormExpired(Exception):
    """A form post without the right CSRF token."""


@dataclass
class Visit:
    request: Request
    words: i18n.Words
    lang_chosen: bool  # ?lang= on this request: remember it
    signin: SignIn | None = None
    person: Person | None = None
    anonymous_csrf: str | None = None  # before sign-in: the double-submit cookie's value
    new_anonymous_csrf: bool = False
    cookies_to_set: dict[str, str] = field(default_factory=dict)

    @property
    def csrf_token(self) -> str:
        if self.signin is not None:
            return self.signin.csrf
        if self.anonymous_csrf is None:
            self.anonymous_csrf = csrf.new_token()
            self.new_anonymous_csrf = True
        return self.anonymous_csrf

    def api(self) -> Api:
        person, signin = self.signed_in()
        backends = self.request.app.state.workspace.backends
        return backends.acting_for(person, signin.sid, self.words.lang)

    def signed_in(self) -> tuple[Person, SignIn]:
        if self.person is None or self.signin is None:
            raise SignInNeeded(ended=SESSION_COOKIE in self.request.cookies)
        return self.person, self.signin

    def staff(self) -> Person:
        person, _ = self.signed_in()
        if person.role is not Role.admin:
            raise NotYours()
        return person

    def school(self, school_id: uuid.UUID) -> Person:
        """The signed-in person, if they may see this school's pages."""
        person, _ = self.signed_in()
        if person.role is Role.coordinator and person.school_id != school_id:
            raise NotYours()
        return person

    async def form(self) -> dict[str, Any]:
        """The posted form, once its CSRF token is checked; lists for repeated fields."""
        posted = await self.request.form()
        expected = self.signin.csrf if self.signin else self.request.cookies.get(csrf.COOKIE)
        given = posted.get(csrf.FIELD)
        if not csrf.matches(expected, given if isinstance(given, str) else None):
            raise FormExpired()
        values: dict[str, Any] = {}
        for key in posted:
            found = [v for v in posted.getlist(key) if isinstance(v, str)]
            values[key] = found if len(found) > 1 else (found[0] if found else "")
        return values


async def visit_of(request: Request) -> Visit:
    """The request's visitor: language, and sign-in if the cookie names a live session."""
    state = request.app.state.workspace
    requested = request.query_params.get("lang")
    lang = i18n.choose(
        requested, request.cookies.get(i18n.COOKIE), request.headers.get("accept-language")
    )
    visit = Visit(
        request=request,
        words=i18n.Words(lang),
        lang_chosen=requested in i18n.LANGUAGES,
        anonymous_csrf=request.cookies.get(csrf.COOKIE),
    )
    signin = await state.signins.find(request.cookies.get(SESSION_COOKIE))
    if signin is not None:
        person = await state.people.get(signin.person_id)
        if person is not None and person.active:
            visit.signin, visit.person = signin, person
    return visit


def render(
    visit: Visit,
    template: str,
    status: int = 200,
    errors: list[FieldMessage] | None = None,
    **context: Any,
) -> HTMLResponse:
    words = visit.words
    errors = errors or []
    response = templates.TemplateResponse(
        visit.request,
        template,
        {
            "t": words,
            "lang": words.lang,
            "languages": i18n.LANGUAGES,
            "person": visit.person,
            "csrf_field": csrf.FIELD,
            "csrf_token": visit.csrf_token,
            "errors": errors,
            "error_for": {e.field: e.text for e in errors if e.field},
            "path": visit.request.url.path,
            **context,
        },
        status_code=status,
    )
    remember(visit, response)
    return response


def remember(visit: Visit, response: Any) -> None:
    """The cookies a visit sets: the language chosen, the anonymous CSRF token."""
    settings = visit.request.app.state.workspace.settings
    if visit.lang_chosen:
        response.set_cookie(
            i18n.COOKIE,
            visit.words.lang,
            max_age=365 * 24 * 3600,
            samesite="lax",
            secure=settings.secure_cookies,
            httponly=True,
        )
    if visit.new_anonymous_csrf and visit.anonymous_csrf:
        response.set_cookie(
            csrf.COOKIE,
            visit.anonymous_csrf,
            samesite="lax",
            secure=settings.secure_cookies,
            httponly=True,
        )
