"""Provisioning a test's own nats-server as production does."""

from __future__ import annotations

import nats
from yts_deploy.provision import provision


async def provisioned_server(url: str) -> str:
    """Create the design's streams and durable consumers on the server at ``url``; drift
    fails the test at once."""
    nc = await nats.connect(url)
    try:
        report = await provision(nc.jetstream())
        assert report.ok, report.drift
    finally:
        await nc.close()
    return url
