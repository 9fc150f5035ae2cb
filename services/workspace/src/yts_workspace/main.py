"""Composition root: settings -> logging -> NATS (the workspace's buckets, the access bucket)
-> the signing key published -> the services' clients -> the pages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import nats
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from nats.aio.client import Client as NatsClient
from yts_chassis.access import AccessView, publish_signing_key
from yts_chassis.logs import configure_logging, get_logger

from yts_workspace import pages_school, pages_signin, pages_staff, signing
from yts_workspace.backends import ApiProblem, Backends
from yts_workspace.buckets import LINKS_BUCKET, PEOPLE_BUCKET, SIGNINS_BUCKET
from yts_workspace.headers import SecureHeaders
from yts_workspace.links import Links
from yts_workspace.people import People
from yts_workspace.ratelimit import SlidingWindow
from yts_workspace.settings import WorkspaceSettings
from yts_workspace.signins import Lifetimes, SignIns
from yts_workspace.web import FormExpired, NotYours, SignInNeeded, render, visit_of

log = get_logger(__name__)


@dataclass
class Workspace:
    settings: WorkspaceSettings
    nc: NatsClient
    people: People
    links: Links
    signins: SignIns
    backends: Backends
    link_requests: SlidingWindow
    # The access bucket followed (as every service follows it): static tokens' labels, for
    # the audit's "who".
    access: AccessView

    @property
    def js(self) -> Any:
        return self.nc.jetstream()


async def connect(settings: WorkspaceSettings) -> NatsClient:
    options: dict[str, Any] = {
        "servers": [s.strip() for s in settings.nats_url.split(",") if s.strip()],
        "inbox_prefix": settings.nats_inbox_prefix,
        "max_reconnect_attempts": -1,
    }
    if settings.nats_user:
        options["user"] = settings.nats_user
        options["password"] = (
            settings.nats_password.get_secret_value() if settings.nats_password else ""
        )
    return await nats.connect(**options)


async def open_workspace(settings: WorkspaceSettings) -> Workspace:
    nc = await connect(settings)
    js = nc.jetstream()
    key = signing.load_or_create(
        settings.signing_key.get_secret_value() if settings.signing_key else None,
        settings.signing_key_file,
    )
    await publish_signing_key(js, key)
    people_kv = await js.key_value(PEOPLE_BUCKET)
    await signing.note_in_use(people_kv, key.kid)
    urls = {
        "enrolment": settings.enrolment_url,
        "sessions": settings.sessions_url,
        "notifications": settings.notifications_url,
        "reporting": settings.reporting_url,
        "credentials": settings.credentials_url,
    }
    return Workspace(
        settings=settings,
        nc=nc,
        people=People(people_kv),
        links=Links(await js.key_value(LINKS_BUCKET), timedelta(minutes=settings.link_minutes)),
        signins=SignIns(
            await js.key_value(SIGNINS_BUCKET),
            Lifetimes(
                idle=timedelta(minutes=settings.idle_minutes),
                absolute=timedelta(hours=settings.absolute_hours),
            ),
        ),
        backends=Backends(
            urls, key, timedelta(seconds=settings.token_seconds), settings.api_timeout_seconds
        ),
        link_requests=SlidingWindow(settings.link_requests_per_quarter_hour, 15 * 60),
        access=AccessView(),
    )


async def withdraw_retired_keys(workspace: Workspace, every: float = 60.0) -> None:
    """Keys rotated out are withdrawn once every token they signed has expired."""
    while True:
        try:
            for kid in await signing.withdraw_expired(workspace.people.kv, workspace.js):
                log.info("retired signing key withdrawn", kid=kid)
        except Exception as error:  # NATS away: the next pass tries again
            log.warning("retired signing keys not checked", error=repr(error))
        await asyncio.sleep(every)


def create_app(settings: WorkspaceSettings | None = None) -> FastAPI:
    settings = settings or WorkspaceSettings()
    configure_logging("workspace", settings.log_level, settings.log_format)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        workspace = await open_workspace(settings)
        app.state.workspace = workspace
        log.info("workspace started", public_url=settings.public_url)
        retiring = asyncio.create_task(withdraw_retired_keys(workspace))
        workspace.access.start(lambda: workspace.js)
        try:
            yield
        finally:
            retiring.cancel()
            await workspace.access.stop()
            await workspace.backends.close()
            await asyncio.shield(workspace.nc.drain())

    app = FastAPI(
        title="YTS workspace", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.add_middleware(SecureHeaders)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    app.include_router(pages_signin.router)
    app.include_router(pages_school.router)
    app.include_router(pages_staff.router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok")

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> PlainTextResponse:
        workspace: Workspace | None = getattr(request.app.state, "workspace", None)
        if workspace is None or not workspace.nc.is_connected:
            return PlainTextResponse("nats: down", status_code=503)
        return PlainTextResponse("ok")

    @app.exception_handler(SignInNeeded)
    async def sign_in_needed(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInNeeded)
        target = "/sign-in?ended=1" if exc.ended else "/sign-in"
        response = RedirectResponse(target, status_code=303)
        if exc.ended:
            response.delete_cookie("yts_ws_session")
        return response

    @app.exception_handler(NotYours)
    async def not_yours(request: Request, exc: Exception) -> HTMLResponse:
        return render(await visit_of(request), "refused.html", status=403)

    @app.exception_handler(FormExpired)
    async def form_expired(request: Request, exc: Exception) -> HTMLResponse:
        return render(await visit_of(request), "form_expired.html", status=403)

    @app.exception_handler(ApiProblem)
    async def api_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiProblem)
        visit = await visit_of(request)
        if exc.status == 401:  # the services refuse this person now (revoked, signed out)
            return await sign_in_needed(request, SignInNeeded(ended=True))
        if exc.status == 403:
            return render(visit, "refused.html", status=403)
        status = exc.status if exc.status in (404, 503) else 502
        return render(visit, "problem.html", status=status, problem=exc)

    return app
