"""What a service refuses, in kinds every edge answers alike. A service's ``errors.py`` names
its refusals in the programme's words as subclasses of these; its rules and use cases raise
them and know no HTTP. The edge answers each kind as problem+json (``problem_of``): a broken
rule 422 naming every field at fault, a conflict with what is recorded 409, an unknown id 404,
another school's trainer or session 403.

No HTTP is imported here at module level, so a service's core may import this module."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import JSONResponse

    from yts_chassis.errors import Problem


@dataclass(frozen=True)
class Breach:
    """A broken rule, as the problem a person sees: the field, the rule and what to do."""

    field: str
    rule: str
    message: str


class Refused(Exception):
    """Something the service will not do; nothing is stored or published."""


class RuleBroken(Refused, ValueError):
    """Input a rule of the programme refuses: every breach, so that one answer lists all that
    needs correcting."""

    def __init__(self, *breaches: Breach) -> None:
        super().__init__("; ".join(f"{b.field}: {b.message}" for b in breaches))
        self.breaches = breaches


class Conflict(Refused):
    """A request at odds with what is recorded (a name taken, a fact recorded once)."""

    def __init__(self, breach: Breach) -> None:
        super().__init__(f"{breach.field}: {breach.message}")
        self.breach = breach


class NotFound(Refused, LookupError):
    """Nothing with this id; ``what`` names it as a person reads it ("peer session")."""

    def __init__(self, what: str, ident: object) -> None:
        super().__init__(f"no {what} {ident}")
        self.what = what
        self.ident = ident


class NotYourSchool(Refused):
    """A coordinator acting for a school other than its own."""

    def __init__(self, school_id: uuid.UUID) -> None:
        super().__init__(f"the caller may not act for school {school_id}")
        self.school_id = school_id


def problem_of(refusal: Refused) -> Problem:
    """The problem+json a refusal is answered with, each naming the field and the rule."""
    from yts_chassis.errors import FieldError, Problem

    match refusal:
        case RuleBroken(breaches=breaches):
            return Problem.invalid_fields(
                [FieldError(b.field, b.rule, b.message) for b in breaches]
            )
        case Conflict(breach=breach):
            return Problem.conflict(breach.field, breach.rule, breach.message)
        case NotFound(what=what, ident=ident):
            return Problem.not_found(what, ident)
        case NotYourSchool():
            # Also what ``auth.ensure_school_access`` answers at the routes that check first.
            return Problem(
                403, "Not your school", "A coordinator token acts only for its own school."
            )
    raise TypeError(f"no answer for {refusal!r}")


async def answer_refusal(request: Request, exc: Exception) -> JSONResponse:
    """The app's handler of ``Refused``."""
    from yts_chassis.errors import problem_response

    assert isinstance(exc, Refused)
    return problem_response(problem_of(exc), request)
