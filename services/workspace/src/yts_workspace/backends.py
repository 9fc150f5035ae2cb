"""The services' public HTTP APIs, called on a signed-in person's behalf: each call carries a
freshly minted short-lived access token of that person and sign-in session, so every service
decides by the person's own role and school (and refuses them at once when revoked)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from yts_chassis.access import SigningKey

from yts_workspace.people import Person

SERVICES = ("enrolment", "sessions", "notifications", "reporting", "credentials")


@dataclass
class ApiProblem(Exception):
    """A service said no (problem+json), or could not be reached (status 503)."""

    status: int
    title: str
    detail: str = ""
    errors: list[dict[str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.status} {self.title}: {self.detail}"


def problem_of(response: httpx.Response) -> ApiProblem:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    errors = [
        {key: str(error.get(key, "")) for key in ("field", "rule", "message")}
        for error in body.get("errors") or []
        if isinstance(error, dict)
    ]
    return ApiProblem(
        response.status_code,
        str(body.get("title") or response.reason_phrase),
        str(body.get("detail") or ""),
        errors,
    )


class Backends:
    """One HTTP client per service, shared by every request of the workspace."""

    def __init__(
        self, urls: dict[str, str], key: SigningKey, token_life: timedelta, timeout: float
    ) -> None:
        self.key = key
        self.token_life = token_life
        self.clients = {
            name: httpx.AsyncClient(base_url=url.rstrip("/"), timeout=timeout)
            for name, url in urls.items()
        }

    def acting_for(self, person: Person, session_id: str, language: str) -> Api:
        return Api(self, person, session_id, language)

    async def close(self) -> None:
        for client in self.clients.values():
            await client.aclose()


class Api:
    """The services as one signed-in person calls them."""

    def __init__(self, backends: Backends, person: Person, session_id: str, language: str) -> None:
        self.backends = backends
        self.person = person
        self.session_id = session_id
        self.language = language

    def _headers(self, idempotency_key: str | None) -> dict[str, str]:
        token = self.backends.key.mint(
            person_id=self.person.id,
            role=self.person.role,
            school_id=self.person.school_id,
            session_id=self.session_id,
            lifetime=self.backends.token_life,
        )
        headers = {"Authorization": f"Bearer {token}", "Accept-Language": self.language}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        return headers

    async def call(
        self,
        method: str,
        service: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        idempotency_key: str | None = None,
    ) -> Any:
        client = self.backends.clients[service]
        try:
            response = await client.request(
                method,
                path,
                params={k: v for k, v in (params or {}).items() if v not in (None, "")},
                json=body,
                headers=self._headers(idempotency_key),
            )
        except httpx.HTTPError as error:
            raise ApiProblem(503, "Service unavailable", f"{service}: {error!r}") from error
        if response.status_code >= 400:
            raise problem_of(response)
        if not response.content:
            return None
        return response.json()

    async def get(self, service: str, path: str, **params: Any) -> Any:
        return await self.call("GET", service, path, params=params)

    async def post(
        self, service: str, path: str, body: Any, idempotency_key: str | None = None
    ) -> Any:
        return await self.call("POST", service, path, body=body, idempotency_key=idempotency_key)

    async def create(
        self, service: str, path: str, body: Any, idempotency_key: str
    ) -> tuple[Any, ApiProblem | None]:
        """A create a form asked for: what was made, or the service's refusal of the form's
        input (409, 422) for the page to show next to its fields; other problems are raised."""
        try:
            return await self.post(service, path, body, idempotency_key), None
        except ApiProblem as problem:
            if problem.status not in (409, 422):
                raise
            return None, problem

    async def patch(self, service: str, path: str, body: Any) -> Any:
        return await self.call("PATCH", service, path, body=body)

    async def delete(self, service: str, path: str) -> Any:
        return await self.call("DELETE", service, path)

    async def every(self, service: str, path: str, **params: Any) -> list[Any]:
        """Every item of a paged list (pages of 100)."""
        items: list[Any] = []
        offset = 0
        while True:
            page = await self.get(service, path, limit=100, offset=offset, **params)
            items.extend(page["items"])
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                return items


def new_idempotency_key() -> str:
    return str(uuid.uuid4())
