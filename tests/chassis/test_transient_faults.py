"""A request that meets a transient fault (the database cut away under it) is answered 503
problem+json with Retry-After, saying nothing was changed: the client sends it again, instead of
reading a 500 as a bug."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy.exc import OperationalError
from yts_chassis.errors import install_problem_handlers


async def test_a_database_cut_under_a_request_is_a_503_to_retry_not_a_500() -> None:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/v1/sessions")
    async def plan() -> None:
        raise OperationalError("INSERT ...", {}, ConnectionResetError("connection was closed"))

    @app.post("/v1/bug")
    async def bug() -> None:
        raise KeyError("grade")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        cut = await client.post("/v1/sessions")
        bug_answer = await client.post("/v1/bug")
    assert cut.status_code == 503
    assert cut.headers["content-type"] == "application/problem+json"
    assert cut.headers["retry-after"] == "1"
    assert "nothing was changed" in cut.json()["detail"]
    assert bug_answer.status_code == 500  # a bug stays a 500, and is logged as one
