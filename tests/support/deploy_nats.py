"""Real nats-server processes run from deploy/nats (the production users and permissions), and
clients that record what the server refuses.

nats-py reports a permission refusal as a timeout of the call plus a "permissions violation"
through the connection's error callback; tests assert on the latter.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.errors import APIError
from yts_deploy.natsconfig import (
    CLUSTER_CONFIG,
    MAIN_CONFIG,
    PLATFORM_USERS,
    PROVISIONER,
    SOURCE_DIR,
    generate_password,
    inbox_prefix,
    server_env,
)
from yts_deploy.natsserver import NatsServer, free_port
from yts_deploy.provision import provision
from yts_deploy.runner import provision_at

from tests.support.services import eventually_sync


@dataclass
class SecuredNats:
    """A nats-server started from ``config_dir`` (deploy/nats itself, or a copy of it)."""

    server: NatsServer
    passwords: dict[str, str]
    config_dir: Path

    @property
    def url(self) -> str:
        return self.server.url


def new_platform_passwords() -> dict[str, str]:
    """A fresh password for each of the platform's own NATS users."""
    return {user: generate_password() for user in PLATFORM_USERS}


def start_secured(store_dir: Path, name: str, config_dir: Path = SOURCE_DIR) -> SecuredNats:
    passwords = new_platform_passwords()
    server = NatsServer(
        store_dir=store_dir,
        name=name,
        config_file=config_dir / MAIN_CONFIG,
        env=server_env(passwords),
    ).start()
    return SecuredNats(server, passwords, config_dir)


def cluster_nodes(
    store_root: Path, passwords: dict[str, str], config_dir: Path = SOURCE_DIR
) -> list[NatsServer]:
    """Three nodes of one NATS cluster on loopback, run from ``config_dir``'s cluster
    configuration with these passwords (not started yet)."""
    route_ports = [free_port() for _ in range(3)]
    routes = tuple(f"nats://127.0.0.1:{port}" for port in route_ports)
    return [
        NatsServer(
            store_dir=store_root / f"node-{n}",
            name=f"yts-node-{n}",
            config_file=config_dir / CLUSTER_CONFIG,
            env=server_env(passwords),
            cluster_port=port,
            routes=routes,
        )
        for n, port in enumerate(route_ports, start=1)
    ]


async def provision_r3_when_clustered(url: str, password: str, timeout: float = 60.0) -> None:
    """Provision with three replicas, as the provisioner, once the nodes at ``url`` (comma
    separated) have formed the cluster (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            report = await provision_at(url, replicas=3, user=PROVISIONER, password=password)
            assert report.ok, report.drift
            return
        except (APIError, NatsTimeout, NoRespondersError, TimeoutError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


@dataclass
class Watched:
    """A client connection and every error the server reported to it."""

    nc: NatsClient
    errors: list[str] = field(default_factory=list)

    @property
    def js(self) -> Any:
        return self.nc.jetstream(timeout=1.0)

    def violations(self) -> list[str]:
        return [e for e in self.errors if "permissions violation" in e]

    async def refused(self, subject: str, timeout: float = 5.0, after: int = 0) -> str:
        """Wait (bounded) for the server's permission error naming ``subject`` (the server
        writes it in lower case), among the errors reported after the first ``after``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for error in self.violations()[after:]:
                if f'"{subject.lower()}"' in error.lower():
                    return error
            await asyncio.sleep(0.02)
        raise AssertionError(f"no permissions violation for {subject!r}; errors: {self.errors}")

    async def refuses(self, subject: str, action: Callable[..., Awaitable[Any]], *args: Any) -> str:
        """Start ``action(*args)``, a call the server should refuse, and wait for the violation
        naming ``subject`` (the call itself would only time out: it is cancelled then)."""
        seen = len(self.violations())
        call = asyncio.ensure_future(action(*args))
        try:
            return await self.refused(subject, after=seen)
        finally:
            call.cancel()
            with contextlib.suppress(BaseException):
                await call


@asynccontextmanager
async def connected(
    url: str, user: str | None, password: str | None, prefix: str | None = None
) -> AsyncIterator[Watched]:
    watched: Watched

    async def on_error(error: Exception) -> None:
        watched.errors.append(str(error))

    options: dict[str, Any] = {
        "servers": [url],
        "error_cb": on_error,
        "connect_timeout": 3,
        "max_reconnect_attempts": 0,
        "allow_reconnect": False,
    }
    if user is not None:
        options.update(user=user, password=password, inbox_prefix=prefix or inbox_prefix(user))
    nc = await nats.connect(**options)
    watched = Watched(nc)
    try:
        yield watched
    finally:
        with contextlib.suppress(Exception):
            await nc.close()


async def accepts(url: str, user: str, password: str, prefix: str) -> bool:
    """Whether the server lets ``user`` in with ``password`` (and its inbox prefix)."""
    try:
        async with connected(url, user, password, prefix):
            return True
    except Exception:
        return False


@asynccontextmanager
async def as_platform_user(nats_server: SecuredNats, user: str) -> AsyncIterator[Watched]:
    async with connected(nats_server.url, user, nats_server.passwords[user]) as watched:
        yield watched


async def provision_as_provisioner(nats_server: SecuredNats, replicas: int = 1) -> None:
    async with as_platform_user(nats_server, PROVISIONER) as admin:
        report = await provision(admin.nc.jetstream(), replicas=replicas)
        assert report.ok, report.drift


FIXTURES = Path(__file__).resolve().parents[2] / "contracts" / "fixtures"
# Which platform user publishes the events of each subject prefix.
PUBLISHER_OF = {
    "yts.enrolment.": "enrolment",
    "yts.private.enrolment.": "enrolment",
    "yts.sessions.": "sessions",
    "yts.milestones.": "sessions",
    "yts.credentials.": "credentials",
}


def fixture_envelopes(event_type: str) -> list[Any]:
    """The contracts' example events of ``event_type``, each wrapped with a fresh id."""
    import json
    import uuid

    from yts_contracts import CATALOG, to_nats

    model = CATALOG[event_type].model
    return [
        to_nats(
            model.model_validate(json.loads(path.read_text(encoding="utf-8"))),
            source="/yts/tests",
            event_id=uuid.uuid4(),
        )
        for path in sorted((FIXTURES / event_type).glob("*.json"))
    ]


async def publish_as_owner(nats_server: SecuredNats, event_types: list[str]) -> int:
    """Publish the example events of ``event_types`` as the services that own them."""
    published = 0
    for event_type in event_types:
        owner = next(user for prefix, user in PUBLISHER_OF.items() if event_type.startswith(prefix))
        async with as_platform_user(nats_server, owner) as client:
            js = client.nc.jetstream()
            for envelope in fixture_envelopes(event_type):
                await js.publish(envelope.subject, envelope.body, headers=envelope.headers)
                published += 1
    return published


def wait_until_connectable(environment: dict[str, str], timeout: float = 10.0) -> None:
    """Block (bounded) until the partner credentials printed by `yts partners add` are
    accepted: the server applies its reloaded users a moment after the SIGHUP."""
    attempt = partial(
        accepts,
        environment["YTS_PARTNER_NATS_URL"],
        environment["YTS_PARTNER_NATS_USER"],
        environment["YTS_PARTNER_NATS_PASSWORD"],
        environment["YTS_PARTNER_INBOX_PREFIX"],
    )
    eventually_sync(lambda: asyncio.run(attempt()), timeout)
