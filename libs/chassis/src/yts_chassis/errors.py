"""RFC 9457 problem details (``application/problem+json``) for every error, with the field and
the rule for bad input, and never a 500 for bad input."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from yts_chassis.database import is_transient
from yts_chassis.logs import get_logger

log = get_logger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:yts:problem:"


@dataclass(frozen=True)
class FieldError:
    field: str
    rule: str
    message: str


class Problem(Exception):
    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        kind: str | None = None,
        errors: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.kind = kind or title.lower().replace(" ", "-")
        self.errors = list(errors)
        self.headers = dict(headers or {})

    @classmethod
    def invalid(cls, field: str, rule: str, message: str, status: int = 422) -> Problem:
        """Bad input on one field: names the field and the rule it broke."""
        return cls.invalid_fields([FieldError(field, rule, message)], status)

    @classmethod
    def invalid_fields(cls, errors: Sequence[FieldError], status: int = 422) -> Problem:
        """Bad input on one or more fields, each named with the rule it broke."""
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors) or "The request is invalid."
        return cls(status, "Invalid input", detail, kind="validation", errors=errors)

    @classmethod
    def body_too_large(cls, limit: int) -> Problem:
        """A request body over ``limit`` bytes."""
        return cls(
            413,
            "Content too large",
            f"body: larger than {limit} bytes",
            kind="content-too-large",
            errors=[FieldError("body", "max_bytes", f"larger than {limit} bytes")],
        )

    @classmethod
    def unavailable(cls, retry_after_seconds: int = 1) -> Problem:
        """The service cannot answer now (its database is away); the same request will do."""
        return cls(
            503,
            "Service unavailable",
            "A dependency of this service is briefly unavailable; nothing was changed. "
            "Send the same request again.",
            kind="unavailable",
            headers={"Retry-After": str(retry_after_seconds)},
        )

    @classmethod
    def not_found(cls, what: str, ident: object) -> Problem:
        return cls(404, "Not found", f"No {what} with id {ident}.", kind="not-found")

    @classmethod
    def conflict(cls, field: str, rule: str, message: str) -> Problem:
        return cls(
            409,
            "Conflict",
            f"{field}: {message}",
            kind="conflict",
            errors=[FieldError(field, rule, message)],
        )

    def body(self, instance: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_TYPE_PREFIX + self.kind,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "instance": instance,
        }
        if self.errors:
            body["errors"] = [asdict(e) for e in self.errors]
        return body


class FieldErrorDoc(BaseModel):
    field: str = Field(description="the field, parameter or header at fault (query.offset)")
    rule: str = Field(description="the rule it broke, a stable code (less_than_equal)")
    message: str = Field(description="what is wrong, for people")


class ProblemDetails(BaseModel):
    """RFC 9457 problem details, as every error of the APIs is answered (the OpenAPI schema of
    what ``Problem.body`` writes)."""

    type: str = Field(examples=["urn:yts:problem:validation"])
    title: str
    status: int
    detail: str
    instance: str = Field(description="the path of the request")
    errors: list[FieldErrorDoc] | None = Field(
        default=None, description="for bad input: each field with the rule it broke"
    )


def _problem_content() -> dict[str, Any]:
    return {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}


# What any route of the APIs may answer besides its success; included with every service router
# so that the OpenAPI documents list every status a client can get (``document_problems`` gives
# each its problem+json content).
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "The request cannot be read"},
    401: {"description": "No bearer token, or one that is not known"},
    403: {"description": "The token's role or school may not do this"},
    404: {"description": "Nothing with this id, or nothing here"},
    409: {"description": "In conflict with what is recorded (e.g. a name already taken)"},
    413: {"description": "The request body is over the size limit"},
    422: {"description": "Invalid input: each field named with the rule it broke"},
    503: {"description": "The database is briefly away: nothing was changed; send it again"},
}


def document_problems(app: FastAPI) -> None:
    """Make the app's OpenAPI document say what the handlers below do: every 4xx (and 503) of
    every operation is problem+json with the ProblemDetails schema (a route's own description of a
    status, e.g. "the trainer is not active" for 409, is kept; FastAPI's default 422 schema,
    which no response has, is replaced)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = build()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        problem = ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(problem.pop("$defs", {}))
        schemas["ProblemDetails"] = problem
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                for status, response in operation.get("responses", {}).items():
                    # A 503 of the APIs is a problem; /readyz's says which dependency is down.
                    if str(status).startswith("4") or (
                        str(status) == "503" and "content" not in response
                    ):
                        response["content"] = _problem_content()
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


class BodyProblem(StarletteHTTPException):
    """A Problem raised while the request body is being received.

    FastAPI turns any other exception raised while it reads the body into a bare 400, but lets
    an HTTPException through to the handlers."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.status, problem.detail, problem.headers)
        self.problem = problem


def problem_response(problem: Problem, request: Request) -> JSONResponse:
    return JSONResponse(
        problem.body(request.url.path),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=problem.headers,
    )


def _field_path(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:] if parts[0] == "body" else parts
    return ".".join(parts) or "body"


def validation_problem(exc: RequestValidationError) -> Problem:
    errors = [
        FieldError(
            field=_field_path(err.get("loc", ())),
            rule=str(err.get("type", "invalid")),
            message=str(err.get("msg", "invalid value")),
        )
        for err in exc.errors()
    ]
    return Problem.invalid_fields(errors)


def unparsable_body_problem(exc: StarletteHTTPException) -> Problem | None:
    """The problem with a JSON body FastAPI could not parse, which it reports as a bare 400
    raised from the parser's error; None for any other HTTP error."""
    cause = exc.__cause__
    if exc.status_code != 400 or cause is None:
        return None
    if isinstance(cause, UnicodeDecodeError):
        return Problem.invalid("body", "json_invalid", "not valid UTF-8 JSON")
    if isinstance(cause, RecursionError):
        return Problem.invalid("body", "json_invalid", "JSON nested too deeply")
    return None


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(exc, request)

    async def on_body_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, BodyProblem)
        return problem_response(exc.problem, request)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return problem_response(validation_problem(exc), request)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        unparsable = unparsable_body_problem(exc)
        if unparsable is not None:
            return problem_response(unparsable, request)
        titles = {
            404: "Not found",
            405: "Method not allowed",
            401: "Authentication required",
            403: "Forbidden",
        }
        problem = Problem(
            exc.status_code,
            titles.get(exc.status_code, "HTTP error"),
            str(exc.detail),
            headers=dict(exc.headers or {}),
        )
        return problem_response(problem, request)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        if is_transient(exc):
            # The database (or the network to it) went away under this request: nothing was
            # committed, and the same request will do once it is back.
            log.warning(
                "request failed on a transient fault", path=request.url.path, error=repr(exc)
            )
            return problem_response(Problem.unavailable(), request)
        log.exception("unhandled error", path=request.url.path)
        problem = Problem(
            500,
            "Internal error",
            "Something went wrong on our side; it has been logged.",
            kind="internal",
        )
        return problem_response(problem, request)

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(BodyProblem, on_body_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
