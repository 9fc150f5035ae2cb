"""A service's ``/metrics``, read as Prometheus reads it (tests only)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from yts_chassis.health import health_router


async def events_handled(client: httpx.AsyncClient, consumer: str) -> dict[str, float]:
    """``yts_events_handled_total`` of one durable consumer by outcome, from ``/metrics``."""
    text = (await client.get("/metrics")).text
    return {
        sample.labels["outcome"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "yts_events_handled_total" and sample.labels.get("consumer") == consumer
    }


@asynccontextmanager
async def served_here() -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``/metrics`` as a service running in this process serves it."""
    app = FastAPI()
    app.include_router(health_router({}))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://service"
    ) as client:
        yield client
