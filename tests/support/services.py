"""Run a service's real ASGI app in-process (its lifespan included) against the real broker and
a real database, and talk to it over HTTP through httpx."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

ADMIN_TOKEN = "yts_test-admin-token"


def settings_for(
    settings_type: type[Any], *, nats_url: str, database_url: str, **overrides: Any
) -> Any:
    return settings_type(
        nats_url=nats_url,
        database_url=database_url,
        admin_token=ADMIN_TOKEN,
        log_format="console",
        log_level="WARNING",
        outbox_poll_seconds=0.5,
        **overrides,
    )


@asynccontextmanager
async def running(
    app: FastAPI, token: str | None = ADMIN_TOKEN
) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://service", headers=headers
        ) as client:
            yield client


async def eventually(
    check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05
) -> Any:
    """Poll an async check until it returns a truthy value (bounded in time)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last value: {last!r}")


def eventually_sync(check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.1) -> Any:
    """``eventually`` for a blocking check, in tests that are not async."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last value: {last!r}")
