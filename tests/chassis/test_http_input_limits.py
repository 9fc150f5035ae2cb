"""Bad input at the HTTP edge of an app built by the chassis gets a problem+json naming what
was wrong, never a 500 and never a body read whole: offsets out of range, bodies over the
size limit (declared or streamed), and bodies that are not UTF-8 JSON."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select
from yts_chassis.paging import MAX_OFFSET, Limit, Offset, Page, page
from yts_chassis.service import ServiceRuntime
from yts_chassis.settings import ServiceSettings

from tests.chassis.rig import applied_table, fresh_database, messaging

LIMIT = 64 * 1024
CHUNK = 16 * 1024
FIVE_MB = 5 * 1024 * 1024


class SchoolName(BaseModel):
    name: str


class Pulled:
    """A request body of ``size`` bytes sent in chunks, counting how many the app pulled."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.chunks = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        sent = 0
        while sent < self.size:
            self.chunks += 1
            sent += CHUNK
            yield b" " * CHUNK


@asynccontextmanager
async def chassis_app(database_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, list[str]]]:
    """An app built by ``ServiceRuntime.create_app`` with a paged list and a route that takes
    a JSON body; yields a client and the names the route accepted."""
    await (await fresh_database(database_url)).dispose()
    settings = ServiceSettings(
        service_name="tests", database_url=database_url, max_request_bytes=LIMIT
    )
    runtime = ServiceRuntime(settings, messaging, Path("unused"), configure_logs=False)
    accepted: list[str] = []
    router = APIRouter()

    @router.get("/v1/schools")
    async def schools(limit: Limit = 100, offset: Offset = 0) -> Page[str]:
        async with runtime.db.snapshot() as session:
            found = await page(
                session,
                select(applied_table.c.school_name),
                [applied_table.c.position],
                limit,
                offset,
            )
        return Page(items=found.items, total=found.total, limit=limit, offset=offset)

    @router.post("/v1/schools", status_code=201)
    async def register(school: SchoolName) -> dict[str, str]:
        accepted.append(school.name)
        return {"name": school.name}

    @router.post("/v1/schools/touch", status_code=204)
    async def touch() -> None:
        accepted.append("touched")  # a side effect of a route that reads no body

    app = runtime.create_app(title="tests", description="chassis edge", routers=[router])
    # The HTTP edge needs neither NATS nor migrations: no lifespan.
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://service"
    ) as client:
        yield client, accepted
    await runtime.db.dispose()


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    return problem


@pytest.mark.parametrize("offset", [str(2**63), str(MAX_OFFSET + 1), str(2**31)])
async def test_an_offset_out_of_range_is_refused_naming_the_parameter(
    database_factory: Any, offset: str
) -> None:
    async with chassis_app(await database_factory("edge")) as (client, _):
        problem = assert_problem(await client.get("/v1/schools", params={"offset": offset}), 422)
        assert [e["field"] for e in problem["errors"]] == ["query.offset"]
        assert problem["errors"][0]["rule"] == "less_than_equal"
        # The largest offset allowed still answers, with an empty page.
        last = await client.get("/v1/schools", params={"offset": MAX_OFFSET})
        assert last.status_code == 200, last.text
        assert last.json() == {"items": [], "total": 0, "limit": 100, "offset": MAX_OFFSET}
        problem = assert_problem(await client.get("/v1/schools", params={"limit": 2**63}), 422)
        assert [e["field"] for e in problem["errors"]] == ["query.limit"]


async def test_a_body_declared_over_the_limit_is_refused_before_anything_reads_or_runs(
    database_factory: Any,
) -> None:
    async with chassis_app(await database_factory("edge")) as (client, accepted):
        for path in ("/v1/schools", "/v1/schools/touch"):
            body = Pulled(FIVE_MB)
            response = await client.post(
                path,
                content=body,
                headers={"content-type": "application/json", "content-length": str(FIVE_MB)},
            )
            problem = assert_problem(response, 413)
            assert problem["errors"] == [
                {"field": "body", "rule": "max_bytes", "message": f"larger than {LIMIT} bytes"}
            ]
            assert body.chunks == 0  # not one byte read
        assert accepted == []  # the route that reads no body did not run either
        # A body within the limit is taken as before.
        response = await client.post("/v1/schools", json={"name": "School-Gymnasium No. 12"})
        assert response.status_code == 201, response.text
        assert accepted == ["School-Gymnasium No. 12"]


async def test_a_streamed_body_is_refused_once_it_passes_the_limit_not_read_to_the_end(
    database_factory: Any,
) -> None:
    async with chassis_app(await database_factory("edge")) as (client, accepted):
        body = Pulled(FIVE_MB)  # no content-length: sent chunked
        response = await client.post(
            "/v1/schools", content=body, headers={"content-type": "application/json"}
        )
        problem = assert_problem(response, 413)
        assert [e["field"] for e in problem["errors"]] == ["body"]
        assert "content-length" not in response.request.headers
        # Read only until the limit was passed: one chunk beyond it, of 320 in all.
        assert body.chunks == LIMIT // CHUNK + 1
        assert accepted == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"name": "\xff\xfe"}', "not valid UTF-8 JSON"),
        (b"[" * 20_000 + b"]" * 20_000, "JSON nested too deeply"),
    ],
    ids=["invalid-utf-8", "nested-too-deeply"],
)
async def test_a_body_that_cannot_be_parsed_as_json_is_refused_naming_the_body_and_the_rule(
    database_factory: Any, body: bytes, message: str
) -> None:
    async with chassis_app(await database_factory("edge")) as (client, accepted):
        response = await client.post(
            "/v1/schools", content=body, headers={"content-type": "application/json"}
        )
        problem = assert_problem(response, 422)
        assert problem["errors"] == [{"field": "body", "rule": "json_invalid", "message": message}]
        assert problem["detail"] == f"body: {message}"
        assert accepted == []
