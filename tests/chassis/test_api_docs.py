"""Every service's /docs and /redoc work on a machine without internet: the pages load their
scripts and styles from the service itself (the fastapi-offline package), never from a CDN, and
/metrics counts them under their own route instead of "unmatched"."""

from __future__ import annotations

import re
from typing import Any

import pytest
from prometheus_client import REGISTRY

from tests.chassis.test_http_input_limits import chassis_app

ASSET = re.compile(r"""(?:src|href)\s*[=:]\s*["']([^"']+)["']""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_api_documentation_loads_everything_from_the_service(
    database_factory: Any, page: str
) -> None:
    async with chassis_app(await database_factory("docs")) as (client, _):
        answer = await client.get(page)
        assert answer.status_code == 200
        assets = ASSET.findall(answer.text)
        assert any(a.endswith(".js") for a in assets), assets
        assert [a for a in assets if "//" in a] == []  # no other host, no CDN
        for asset in assets:
            loaded = await client.get(asset)
            assert loaded.status_code == 200, asset
            assert len(loaded.content) > 100, asset


async def test_the_documentation_pages_are_counted_under_their_own_route(
    database_factory: Any,
) -> None:
    def counted(path: str) -> float:
        labels = {"service": "tests", "method": "GET", "route": path, "status": "200"}
        return REGISTRY.get_sample_value("yts_http_requests_total", labels) or 0.0

    async with chassis_app(await database_factory("docs-metrics")) as (client, _):
        before = counted("/docs")
        assert (await client.get("/docs")).status_code == 200
        assert counted("/docs") == before + 1


async def test_every_error_an_operation_can_answer_is_documented_as_problem_json(
    database_factory: Any,
) -> None:
    async with chassis_app(await database_factory("docs-problems")) as (client, _):
        document = (await client.get("/openapi.json")).json()
    register = document["paths"]["/v1/schools"]["post"]["responses"]
    assert {"400", "401", "403", "404", "409", "413", "422"} <= set(register)
    for operations in document["paths"].values():
        for operation in operations.values():
            for status, response in operation["responses"].items():
                if status.startswith("4"):
                    assert list(response["content"]) == ["application/problem+json"], status
    # A 503 of the APIs is a problem too; /readyz's says which dependency is down.
    assert list(register["503"]["content"]) == ["application/problem+json"]
    readyz = document["paths"]["/readyz"]["get"]["responses"]["503"]
    assert list(readyz["content"]) == ["application/json"]
    problem = document["components"]["schemas"]["ProblemDetails"]
    assert {"type", "title", "status", "detail", "instance", "errors"} <= set(problem["properties"])
    assert "HTTPValidationError" not in document["components"]["schemas"]
