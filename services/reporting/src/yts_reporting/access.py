"""Who may read what, and the filters a request asks for.

Readers: admin and partner tokens see everything; a coordinator's token sees its own school
only (another school is a 403, and every answer is filtered to its school). The token comes as
``Authorization: Bearer <token>`` or, for the dashboard in a browser, from the HttpOnly cookie
its sign-in form sets (so the token never appears in a URL, a log line or a Referer header).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from yts_chassis.auth import Authenticator, Principal, Role, ensure_school_access, require_roles
from yts_chassis.days import ProgrammeDay
from yts_chassis.errors import Problem
from yts_contracts.vocabulary import District, Gender

from yts_reporting.filters import Filters, PeriodReversed

COOKIE = "yts_reporting_token"
READER_ROLES = (Role.admin, Role.partner, Role.coordinator)

_bearer = HTTPBearer(
    auto_error=False,
    description="`Authorization: Bearer <token>` (the dashboard also accepts its sign-in cookie)",
)
_check = require_roles(*READER_ROLES)


async def _reader(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None and (token := request.cookies.get(COOKIE)):
        credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=token)
    principal: Principal = await _check(request, credentials)
    return principal


Reader = Annotated[Principal, Depends(_reader)]


def identify(request: Request, token: str) -> Principal | None:
    """The reader a token belongs to, or None (unknown token or a role that may not read)."""
    registry: Authenticator = request.app.state.tokens
    principal = registry.identify(token)
    if principal is None or principal.role not in READER_ROLES:
        return None
    return principal


def browser_principal(request: Request) -> Principal | None:
    """The dashboard's reader, from the bearer header or the sign-in cookie."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token:
        return identify(request, token.strip())
    cookie = request.cookies.get(COOKIE)
    return identify(request, cookie) if cookie else None


# A first or last day of the period: exactly YYYY-MM-DD, in the programme's years.
PeriodEnd = ProgrammeDay


async def _requested(
    start: Annotated[
        PeriodEnd | None,
        Query(
            alias="from",
            description="first day included (YYYY-MM-DD, years 2000-2100, programme time zone)",
        ),
    ] = None,
    end: Annotated[
        PeriodEnd | None,
        Query(alias="to", description="last day included (YYYY-MM-DD, years 2000-2100)"),
    ] = None,
    district: Annotated[District | None, Query(description="Almaty district")] = None,
    school: Annotated[uuid.UUID | None, Query(alias="school_id", description="one school")] = None,
    cohort: Annotated[
        uuid.UUID | None, Query(alias="cohort_id", description="trainers of one cohort")
    ] = None,
    grade: Annotated[
        int | None, Query(ge=9, le=11, description="trainers of one grade: 9, 10 or 11")
    ] = None,
    gender: Annotated[Gender | None, Query(description="trainers of one gender category")] = None,
) -> Filters:
    return _filters(start, end, district, school, cohort, grade, gender)


def _filters(
    start: date | None,
    end: date | None,
    district: District | None,
    school: uuid.UUID | None,
    cohort: uuid.UUID | None,
    grade: int | None,
    gender: Gender | None,
) -> Filters:
    try:
        return Filters(
            start=start,
            end=end,
            district=district.value if district else None,
            school_id=school,
            cohort_id=cohort,
            grade=grade,
            gender=gender.value if gender else None,
        )
    except PeriodReversed as reversed_period:
        raise Problem.invalid(
            "query.to", "not_before_from", f"{reversed_period}; give to >= from"
        ) from reversed_period


Requested = Annotated[Filters, Depends(_requested)]


def scoped(principal: Principal, requested: Filters) -> Filters:
    """The filters a reader may have: a coordinator's are pinned to its own school."""
    if principal.role is not Role.coordinator:
        return requested
    if requested.school_id is not None:
        ensure_school_access(principal, requested.school_id)
    return requested.narrowed(school_id=principal.school_id)


class FilterForm(BaseModel):
    """The dashboard's filter form: the same filters, where a field left empty means "all"
    (a browser sends every field of a GET form, empty or not)."""

    model_config = ConfigDict(extra="ignore")

    start: PeriodEnd | None = Field(default=None, alias="from")
    end: PeriodEnd | None = Field(default=None, alias="to")
    district: District | None = None
    school_id: uuid.UUID | None = None
    cohort_id: uuid.UUID | None = None
    grade: int | None = Field(default=None, ge=9, le=11)
    gender: Gender | None = None


def _form(request: Request) -> Filters:
    filled = {k: v for k, v in request.query_params.items() if v.strip()}
    try:
        form = FilterForm.model_validate(filled)
    except ValidationError as exc:
        # The same problem+json as the API's query parameters give.
        raise RequestValidationError(
            [{**error, "loc": ("query", *error["loc"])} for error in exc.errors()]
        ) from exc
    return _filters(
        form.start,
        form.end,
        form.district,
        form.school_id,
        form.cohort_id,
        form.grade,
        form.gender,
    )


FormFilters = Annotated[Filters, Depends(_form)]
